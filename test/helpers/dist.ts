// The packages `make packages` wrote to dist/, as the tests see them.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { distDir } from '../../scripts/lib/paths.ts'
import type { BuiltPackage } from '../../scripts/lib/packages.ts'

export function manifest(): { product: string; version: string; packages: BuiltPackage[]; proxy_builds: Record<string, any> } {
  const file = path.join(distDir, 'manifest.json')
  if (!existsSync(file)) throw new Error(`no ${file}: run 'make packages' first`)
  return JSON.parse(readFileSync(file, 'utf8'))
}

export function distPackage(format: string, arch: string): string {
  const found = manifest().packages.find((p) => p.format === format && p.arch === arch)
  if (!found) throw new Error(`no ${format} package for ${arch} in dist/manifest.json`)
  return path.join(distDir, found.file)
}
