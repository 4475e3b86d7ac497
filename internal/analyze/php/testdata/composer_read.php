<?php
// Reads a composer.lock or vendor/composer/installed.json with Composer's
// own classes and prints name, pretty version, licences and whether the
// package is a dev one: the expectations of the PHP analyzer tests.
// Run: php composer_read.php composer2/composer.lock > composer2/lock-expected.json
//      php composer_read.php composer1/vendor/composer/installed.json > composer1/installed-expected.json
require '/usr/share/php/Composer/autoload.php';

use Composer\Json\JsonFile;
use Composer\Package\Loader\ArrayLoader;
use Composer\Repository\InstalledFilesystemRepository;

$path = $argv[1];
$out = [];
if (basename($path) === 'composer.lock') {
    $data = (new JsonFile($path))->read();
    $loader = new ArrayLoader(null, true);
    foreach (['packages' => false, 'packages-dev' => true] as $key => $dev) {
        foreach ($data[$key] ?? [] as $config) {
            $p = $loader->load($config);
            $out[] = ['name' => $p->getPrettyName(), 'version' => $p->getPrettyVersion(), 'licenses' => $p->getLicense(), 'dev' => $dev];
        }
    }
} else {
    $repo = new InstalledFilesystemRepository(new JsonFile($path));
    $packages = $repo->getPackages(); // loads the file, dev package names included
    $devNames = $repo->getDevPackageNames();
    foreach ($packages as $p) {
        $out[] = ['name' => $p->getPrettyName(), 'version' => $p->getPrettyVersion(), 'licenses' => $p->getLicense(), 'dev' => in_array($p->getName(), $devNames, true)];
    }
}
usort($out, fn($a, $b) => [$a['name'], $a['version']] <=> [$b['name'], $b['version']]);
echo json_encode($out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES), "\n";
