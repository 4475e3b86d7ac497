-- drydock server store, version 3 (PostgreSQL): indexes for the incident queries.

-- The rows of one vulnerability id in the order the API pages them, the
-- order being unique (a finding of an image is known by its id, package
-- type, name, version and path): a page is read from the index in order,
-- after the previous page's last row, without sorting every affected row,
-- and the count of affected images is an index-only scan. It replaces the
-- index on vuln_id alone, of which it is an extension.
CREATE INDEX image_vulns_page ON image_vulns (vuln_id, digest, package_name, package_version, path, finding_id, package_type);
DROP INDEX image_vulns_id;

-- The same for the rows of one package key (a package of an image is
-- known by its version, purl and path): the versions held, the images
-- holding them and the pages come from this index, in order.
CREATE INDEX image_packages_page ON image_packages (pkey, digest, version, purl, path);
DROP INDEX image_packages_pkey;

-- How many images have a finding known by each id: kept by every change
-- to an image's rows of image_vulns, so the incident answer's count of
-- images is one row, not a scan of every affected row.
CREATE TABLE vuln_images (
    vuln_id  TEXT PRIMARY KEY,
    images   INTEGER NOT NULL
);
INSERT INTO vuln_images (vuln_id, images)
    SELECT vuln_id, COUNT(DISTINCT digest) FROM image_vulns GROUP BY vuln_id;
