// The packages and the install script `make packages` wrote to dist/, as the tests see them.
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
