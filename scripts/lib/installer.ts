// The install script generator: one template (installer/parts/*.sh, the script's sections in the
// order of their file names, assembled into one) rendered per
// variant (installer/variants.yaml) with values from the product definition and the release
// (version, repository URL, signing key fingerprint). The YAML patch is inlined from its own file,
// the init detection from the maintainer scripts' shared definitions.
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { parse } from 'yaml'
import { DATADOG_YAML_AWK, repoRoot } from './paths.ts'
import { linkShellLibrary } from './shell-library.ts'
import { type Product, templateValues } from './product.ts'
import { Fields, ValidationError } from './validate.ts'

const INSTALLER = path.join(repoRoot, 'installer')

export interface Variant {
  name: string
  agentMajor: number
}

export function loadVariants(file = path.join(INSTALLER, 'variants.yaml')): Variant[] {
  const f = new Fields(parse(readFileSync(file, 'utf8')), file, ValidationError)
  return f.list('variants').map((v) => ({ name: v.str('name', /^install_script_[a-z0-9_]+\.sh$/), agentMajor: v.int('agent_major', 6, 99) }))
}

// The one Agent major the variants install, which make repos serves (buildRepos lays out one: more
// would need the apt components and rpm trees of every major built together).
export function repositoryAgentMajor(): number {
  const majors = [...new Set(loadVariants().map((v) => v.agentMajor))]
  if (majors.length !== 1) throw new Error(`installer/variants.yaml: make repos serves one Agent major, not ${majors.join(', ')}`)
  return majors[0]
}

export interface InstallerRelease {
  // Repository base URL baked in as the default (DD_REPO_URL overrides it on a host).
  repoUrl: string
  keyFingerprints: string[]
}

function renderInstaller(product: Product, variant: Variant, release: InstallerRelease): string {
  const awk = readFileSync(DATADOG_YAML_AWK, 'utf8').trimEnd()
  if (awk.split('\n').includes('AWK')) throw new Error('packaging/datadog-yaml.awk must not contain a line "AWK" (the heredoc delimiter)')
  const values = {
    ...templateValues(product),
    SCRIPT_NAME: variant.name,
    AGENT_MAJOR: variant.agentMajor,
    DATADOG_YAML_AWK_PROGRAM: awk,
    SITE: product.site,
    // The floor applies to the product's minimum major; a later major has none.
    AGENT_MIN_MINOR: variant.agentMajor > product.agentMinVersion.major ? 0 : product.agentMinVersion.minor,
    // family:path of the service's environment file, per family.
    ENV_FILES: product.packages.flatMap((f) => f.families.map((family) => `${family}:${f.envFile}`)).join(' '),
    REPO_URL: release.repoUrl,
    REPO_CHANNEL: product.repository.channel,
    SUSE_SUFFIX: product.release.suseSuffix,
    APT_KEYRING: product.repository.aptKeyring,
    KEY_FILE: product.repository.keyFile,
    KEY_FINGERPRINTS: release.keyFingerprints.join(' '),
    TARGETS: product.targets.map((t) => `${t.family}:${t.minVersion}`).join(' '),
  }
  return linkShellLibrary(product, installerTemplate(), values, 'installer/parts')
}

// The install script's parts: its sections, each a file of installer/parts, in file-name order.
export const installerParts = (): string[] => readdirSync(path.join(INSTALLER, 'parts')).filter((f) => f.endsWith('.sh')).sort().map((f) => path.join(INSTALLER, 'parts', f))

// The template of the install script: its parts, joined as they are.
const installerTemplate = (): string => installerParts().map((f) => readFileSync(f, 'utf8')).join('')

export function writeInstallers(product: Product, release: InstallerRelease, outDir: string): string[] {
  mkdirSync(outDir, { recursive: true })
  return loadVariants().map((variant) => {
    const file = path.join(outDir, variant.name)
    writeFileSync(file, renderInstaller(product, variant, release))
    chmodSync(file, 0o755)
    return file
  })
}
