// The packages and the install script `make packages` wrote to dist/, as the tests see them.
import { existsSync, readdirSync, statSync } from 'node:fs'
import path from 'node:path'
import { loadVariants } from '../../scripts/lib/installer.ts'
import { distDir } from '../../scripts/lib/paths.ts'
import { type Manifest, readManifest } from '../../scripts/lib/packages.ts'

// The install script variant the tests run (installer/variants.yaml) and the Agent major it serves.
const [variant] = loadVariants()
export const SCRIPT = variant.name
export const AGENT_MAJOR = variant.agentMajor
export const installScript = path.join(distDir, SCRIPT)

export const manifest = (): Manifest => readManifest(distDir)

export function distPackage(format: string, arch: string): string {
  const found = manifest().packages.find((p) => p.format === format && p.arch === arch)
  if (!found) throw new Error(`no ${format} package for ${arch} in dist/manifest.json`)
  return path.join(distDir, found.file)
}

// dist/ as names, sizes and mtimes, to compare before and after a step: any file written, replaced
// or removed shows. A fresh clone has no dist/: that is a state too.
export const distSnapshot = (): string[] => !existsSync(distDir) ? ['(no dist/)'] : readdirSync(distDir, { recursive: true, encoding: 'utf8' }).sort().map((f) => {
  const st = statSync(path.join(distDir, f))
  return `${f} ${st.size} ${st.mtimeMs}`
})
