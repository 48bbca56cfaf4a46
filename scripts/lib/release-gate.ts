// The release gate (RELEASE=1) of make proxy, make packages and make repos: every shortcut the
// development build takes is refused, each with its own message, all at once, before anything is
// built. A release has: a validated FIPS provider, its own signing key (DD_SIGNING_KEY_FILE), a
// real repository URL, a clean git tree (what is released is a commit), and a version that the
// target repository does not carry yet.
import { $ } from 'zx'
import { repositoryAgentMajor } from './installer.ts'
import { packageVersion } from './packages.ts'
import type { Product } from './product.ts'
import { repoRoot } from './paths.ts'
import { rpmRepoPath } from './repo.ts'
import type { SourcesConfig } from './sources.ts'

export interface GateInput {
  product: Product
  sources: SourcesConfig
  // FIPS_PROVIDER_SOURCE, if set.
  providerSource?: string
  signingKeyFile?: string
  // The repository the release is published to (DD_REPO_URL, else the product's).
  repoUrl: string
  // The checkout that is released.
  checkout: string
  // HTTP status of a URL, or the reason it could not be had (tests give a local server).
  probe?: (url: string) => Promise<number | string>
}

// Host names that point nowhere by design (RFC 2606, RFC 6761): a placeholder, not a repository.
const RESERVED_HOST = /(^|\.)(example(\.(com|net|org))?|invalid|test|localhost)$/i

async function httpStatus(url: string): Promise<number | string> {
  try {
    const r = await fetch(url, { method: 'HEAD', redirect: 'follow', signal: AbortSignal.timeout(15_000) })
    return r.status
  } catch (err) {
    return (err as Error & { cause?: Error }).cause?.message ?? (err as Error).message
  }
}

// The RHEL x86_64 RPM of this version where the repository would publish it: if it is there, the
// version was released already (a repository never replaces a published package).
function publishedRpmUrl(input: GateInput): string {
  const { product } = input
  const arch = product.architectures[0].rpm
  const file = `${product.name}-${packageVersion(product, product.packages.find((f) => f.id === 'rpm-rhel')!)}.${arch}.rpm`
  return `${input.repoUrl.replace(/\/$/, '')}/${rpmRepoPath(product, 'rhel', repositoryAgentMajor(), arch)}/${file}`
}

export async function releaseProblems(input: GateInput): Promise<string[]> {
  const problems: string[] = []
  const { sources } = input
  const providerId = input.providerSource ?? sources.fipsProvider.source
  const provider = sources.sources[providerId]
  if (!provider) {
    problems.push(`FIPS_PROVIDER_SOURCE=${providerId} is not a source of packaging/sources.yaml (${Object.keys(sources.sources).join(', ')})`)
  } else if (!sources.fipsProvider.validatedVersions.includes(provider.version)) {
    problems.push(`the FIPS provider would be built from OpenSSL ${provider.version} (source ${providerId}), which is not a validated provider ` +
      `(validated: ${sources.fipsProvider.validatedVersions.join(', ')}): set FIPS_PROVIDER_SOURCE=openssl-fips-3.0.9 and put its tarball in the source cache`)
  }
  if (!input.signingKeyFile) problems.push('no release signing key: set DD_SIGNING_KEY_FILE to the armored secret key (without it, a throwaway test key would sign)')
  let host = ''
  try {
    host = new URL(input.repoUrl).hostname
  } catch {
    problems.push(`the repository URL '${input.repoUrl}' is not a URL: set DD_REPO_URL, or repository.url in packaging/product.yaml`)
  }
  if (host && RESERVED_HOST.test(host)) {
    problems.push(`the repository URL ${input.repoUrl} is a placeholder (${host} points nowhere): set DD_REPO_URL, or repository.url in packaging/product.yaml`)
  }
  const status = await $({ nothrow: true, quiet: true, cwd: input.checkout })`git status --porcelain`
  if (status.exitCode !== 0) problems.push(`${input.checkout} is not a git checkout: a release is built from a commit`)
  else if (status.stdout.trim()) {
    // Porcelain lines are "XY path": the status letters may start with a space.
    const files = status.stdout.split('\n').filter(Boolean).map((l) => l.slice(3))
    problems.push(`the git tree has uncommitted changes (${files.slice(0, 5).join(', ')}${files.length > 5 ? `, and ${files.length - 5} more` : ''}): commit or stash them`)
  }
  if (host && !RESERVED_HOST.test(host)) {
    const url = publishedRpmUrl(input)
    const answer = await (input.probe ?? httpStatus)(url)
    if (answer === 200) problems.push(`version ${input.product.version} is already published (${url}): bump version or release.iteration in packaging/product.yaml`)
    else if (typeof answer === 'string' || answer >= 500 || answer === 401 || answer === 403) {
      problems.push(`cannot tell whether version ${input.product.version} is already published: ${url} answered ${typeof answer === 'string' ? `nothing (${answer})` : answer}`)
    }
  }
  return problems
}

// RELEASE=1: throws with every problem, one per line, before the caller builds anything.
export async function enforceReleaseGate(product: Product, sources: SourcesConfig, what: string): Promise<void> {
  if (process.env.RELEASE !== '1') return
  const problems = await releaseProblems({
    product,
    sources,
    providerSource: process.env.FIPS_PROVIDER_SOURCE || undefined,
    signingKeyFile: process.env.DD_SIGNING_KEY_FILE || undefined,
    repoUrl: process.env.DD_REPO_URL || product.repository.url,
    checkout: repoRoot,
  })
  if (problems.length) throw new Error(`RELEASE=1: ${what} refused, nothing was built:\n${problems.map((p) => `  - ${p}`).join('\n')}`)
}
