#!/bin/sh
# Regenerates the rpm databases of this directory with the real rpm tools
# (Debian: apt-get install rpm db5.3-util). Run from this directory.
#
# Three tiny packages are built with rpmbuild and registered (--justdb,
# no files written) in an SQLite database, rpm's default backend.
# Debian's rpm 4.18 cannot write the two other formats (it reads Berkeley
# DB only, through bdb_ro, and has no ndb backend), so both are made from
# the headers `rpmdb --exportdb` writes, each without its 8-byte magic:
#   - Packages (Berkeley DB hash) with db5.3_load, keyed by the 4-byte
#     instance number, the layout rpm used for Packages; `rpm -qa` with
#     the bdb_ro backend reads it back (checked below and in the tests);
#   - Packages.db (NDB) with the Python below, following the layout of
#     rpm's lib/backend/ndb/rpmpkg.c (header page, slot page, blobs in
#     16-byte blocks with a header and a tail).
# expected.txt is what `rpm -qa` prints for the SQLite database.
set -eu
here=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
top=$work/top
mkdir -p "$top/SPECS" "$top/BUILD" "$top/RPMS" "$top/SOURCES" "$top/SRPMS"

spec() { # name epoch version release license arch files...
	name=$1 epoch=$2 version=$3 release=$4 license=$5 arch=$6
	shift 6
	{
		echo "Name: $name"
		[ "$epoch" = - ] || echo "Epoch: $epoch"
		echo "Version: $version"
		echo "Release: $release"
		echo "Summary: drydock test package $name"
		echo "License: $license"
		echo "BuildArch: $arch"
		echo "%description"
		echo "Test package."
		echo "%install"
		for f in "$@"; do
			echo "mkdir -p %{buildroot}$(dirname "$f") && echo $name > %{buildroot}$f"
		done
		echo "%files"
		for f in "$@"; do echo "$f"; done
	} > "$top/SPECS/$name.spec"
	rpmbuild --quiet --define "_topdir $top" --define "_build_id_links none" -bb "$top/SPECS/$name.spec"
}

spec hello - 1.0 1.dd "Apache-2.0" noarch /usr/share/hello/greeting /usr/bin/hello
spec libfoo 2 3.4.5 7.dd "MIT and BSD" noarch /usr/lib/libfoo.so.3 /usr/lib/libfoo.so.3.4.5 /etc/foo.conf
spec tool-extra - 0.9 0.1.rc1 "GPL-2.0-or-later" x86_64 /usr/libexec/tool/extra

rpms=$(find "$top/RPMS" -name '*.rpm' | sort)

mkdir -p "$work/sqlite"
rpm --dbpath "$work/sqlite" --initdb
rpm --dbpath "$work/sqlite" --justdb --nodeps --noscripts -i $rpms 2>/dev/null

# Berkeley DB: headers from the SQLite database.
rpmdb --dbpath "$work/sqlite" --exportdb > "$work/headers"
python3 - "$work/headers" "$work/bdb.txt" "$work/Packages.db" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
blobs = []
off = 0
while off < len(data):
    assert data[off:off + 4] == b"\x8e\xad\xe8\x01", "bad header magic"
    il, dl = struct.unpack(">II", data[off + 8:off + 16])
    blobs.append(data[off + 8:off + 16 + 16 * il + dl])
    off += 16 + 16 * il + dl

# Berkeley DB load file (db_dump "bytevalue" format).
out = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
for i, blob in enumerate(blobs, 1):
    out.append(" " + struct.pack("<I", i).hex())
    out.append(" " + blob.hex())
out.append("DATA=END")
open(sys.argv[2], "w").write("\n".join(out) + "\n")

# NDB: a 32-byte header and 254 slots fill the first 4096-byte page; blobs
# follow in 16-byte blocks: blob header (magic, package index, checksum,
# length), the header blob, padding, and a 12-byte tail (checksum, length,
# magic).
page = bytearray(struct.pack("<4sIII16x", b"RpmP", 0, 0, 1))
body = bytearray()
for i, blob in enumerate(blobs, 1):
    blk = (4096 + len(body)) // 16
    ck = zlib.adler32(blob)
    rec = struct.pack("<4sIII", b"BlbS", i, ck, len(blob)) + blob
    rec += b"\0" * ((-len(rec) - 12) % 16) + struct.pack("<II4s", ck, len(blob), b"BlbE")
    body += rec
    page += struct.pack("<4sIII", b"Slot", i, blk, len(rec) // 16)
while len(page) < 4096:
    page += struct.pack("<4sIII", b"Slot", 0, 0, 0)
open(sys.argv[3], "wb").write(bytes(page) + bytes(body))
PY
mkdir -p "$work/bdb"
db5.3_load -f "$work/bdb.txt" "$work/bdb/Packages"

cp "$work/sqlite/rpmdb.sqlite" "$here/rpmdb.sqlite"
cp "$work/Packages.db" "$here/Packages.db"
cp "$work/bdb/Packages" "$here/Packages"
# rpm reads the Berkeley DB copy back and lists the same packages.
qf='%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}[\t%{FILENAMES}]\n'
rpm -qa --dbpath "$work/sqlite" --qf "$qf" | sort > "$work/sqlite.txt"
rpm -qa --define '_db_backend bdb_ro' --dbpath "$work/bdb" --qf "$qf" 2>/dev/null | sort > "$work/bdb.txt.out"
cmp "$work/sqlite.txt" "$work/bdb.txt.out"
rpm -qa --dbpath "$work/sqlite" --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\t%{SOURCERPM}\t%{LICENSE}[\t%{FILENAMES}]\n' | sort > "$here/expected.txt"
ls -l "$here"
