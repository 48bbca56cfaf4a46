// The packages `make packages` wrote to dist/, as the tests see them.
import path from 'node:path'
import { distDir } from '../../scripts/lib/paths.ts'
import { type Manifest, readManifest } from '../../scripts/lib/packages.ts'

export const manifest = (): Manifest => readManifest(distDir)

export function distPackage(format: string, arch: string): string {
  const found = manifest().packages.find((p) => p.format === format && p.arch === arch)
  if (!found) throw new Error(`no ${format} package for ${arch} in dist/manifest.json`)
  return path.join(distDir, found.file)
}
