// Copy the third-party files the HUD and /docs load from node_modules/ into vendor/,
// keeping their paths (node_modules/cytoscape/dist/x.js -> vendor/cytoscape/dist/x.js).
// The list is "cogpipeVendor" in package.json. vendor/ is what the server serves at
// /vendor/ and what the wheel ships, so an installed cogpipe needs no npm at run time.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const files = JSON.parse(readFileSync(join(here, "package.json"), "utf8")).cogpipeVendor;
rmSync(join(here, "vendor"), { recursive: true, force: true });
for (const file of files) {
  const target = join(here, "vendor", file);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(join(here, "node_modules", file), target);
}
console.log(`vendor/: ${files.length} files from node_modules`);
