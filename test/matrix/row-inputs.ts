// What a matrix row reads that `make packages` wrote: what `make matrix-prebuilt` needs in place,
// and what the CI build job hands on to the row jobs. A row installs this release's packages and
// install script (dist/), upgrades to packages of a newer version made from the proxy tree of its
// architecture, and serves repositories signed with the throwaway key that the install script
// trusts (a key made anew would not be the one the script in dist/ names).
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { distDir, repoRoot } from '../../scripts/lib/paths.ts'
import { proxyOutDir } from '../../scripts/lib/proxy-build.ts'
import { defaultSigningDir } from '../../scripts/lib/signing.ts'

// The rows run, and upgrade, on this machine's architecture.
export const ROW_ARCH = 'x86_64'

const relative = (p: string) => path.relative(repoRoot, p)
const [DIST, PROXY_TREE, SIGNING] = [distDir, proxyOutDir(ROW_ARCH), defaultSigningDir].map(relative)

// The directories, relative to the repository, with a trailing slash (as CI files name them).
export const rowInputDirs = (): string[] => [DIST, PROXY_TREE, SIGNING].map((d) => `${d}/`)

// What is missing under root (a checkout): dist/'s manifest, or a directory that is absent or empty.
export function missingRowInputs(root = repoRoot): string[] {
  const present = (p: string) => existsSync(p) && (!statSync(p).isDirectory() || readdirSync(p).length > 0)
  return [path.join(DIST, 'manifest.json'), PROXY_TREE, SIGNING].filter((p) => !present(path.join(root, p)))
}
