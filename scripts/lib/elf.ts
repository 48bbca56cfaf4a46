// ELF inspection with readelf (it reads any architecture's ELF, unlike the host's objdump).
import { openSync, readSync, closeSync, readdirSync, lstatSync } from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'

export function isElf(file: string): boolean {
  const st = lstatSync(file)
  if (!st.isFile() || st.size < 4) return false
  const fd = openSync(file, 'r')
  const magic = Buffer.alloc(4)
  readSync(fd, magic, 0, 4, 0)
  closeSync(fd)
  return magic.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]))
}

export function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((f) => path.join(dir, f))
    .filter((f) => lstatSync(f).isFile())
    .sort()
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

// The newest GLIBC_x.y symbol version a file needs ("none" for a file that needs no glibc).
export async function glibcRequirement(file: string): Promise<string> {
  const out = (await $({ quiet: true })`readelf --version-info --wide ${file}`).stdout
  const versions = [...out.matchAll(/Name: GLIBC_([0-9.]+)/g)].map((m) => m[1])
  return versions.sort(compareVersions).pop() ?? 'none'
}

export interface GlibcFloor {
  floor: string
  files: Record<string, string>
}

// The glibc a whole tree needs: the maximum over its ELF files, with the value per file.
export async function treeGlibcFloor(root: string): Promise<GlibcFloor> {
  const files: Record<string, string> = {}
  for (const file of listFiles(root).filter(isElf)) files[path.relative(root, file)] = await glibcRequirement(file)
  const versions = Object.values(files).filter((v) => v !== 'none')
  return { floor: versions.sort(compareVersions).pop() ?? 'none', files }
}

export async function elfMachine(file: string): Promise<string> {
  const out = (await $({ quiet: true })`readelf --file-header ${file}`).stdout
  return out.match(/Machine:\s+(.+)/)?.[1].trim() ?? 'unknown'
}
