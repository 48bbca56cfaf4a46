// Where things live: the repository, its ignored output folders, and the build cache
// (outside the repository so that clean clones and CI runs on the same machine share it).
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
export const buildDir = path.join(repoRoot, 'build')
export const distDir = path.join(repoRoot, 'dist')
export const PACKAGING = path.join(repoRoot, 'packaging')

// DD_FIPS_CACHE_DIR overrides; otherwise the XDG cache directory of the user running the build.
export function cacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return process.env.DD_FIPS_CACHE_DIR || path.join(base, 'datadog-fips-proxy')
}
// The one reader and editor of datadog.yaml: the package ships it, the install script carries it.
export const DATADOG_YAML_AWK = path.join(PACKAGING, 'datadog-yaml.awk')
