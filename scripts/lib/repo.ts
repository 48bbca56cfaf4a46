// Signed package repositories, laid out as the install script expects (see repository: in
// packaging/product.yaml):
//   apt/                                 apt-ftparchive: dists/<channel>/{Release,Release.gpg,InRelease}, pool/
//   rpm/<channel>/<major>/<arch>/        RHEL family: signed RPMs, repodata/ (gzip), repomd.xml.asc and .key
//   suse/<channel>/<major>/<arch>/       SUSE: the same
//   keys/<key file>                      the public signing key
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import { runLogged } from './exec.ts'
import type { Product } from './product.ts'
import { type SigningKey, sign } from './signing.ts'

export interface RepoInput {
  product: Product
  key: SigningKey
  outDir: string
  // Package files per repository flavour. RPMs are sorted into architectures by their header.
  debs: string[]
  rpms: { rhel: string[]; suse: string[] }
  agentMajor: number
  log: string
}

export interface RepoResult {
  apt: string
  rpm: Record<'rhel' | 'suse', string[]>
  keyFile: string
}

const gpgEnv = (key: SigningKey) => ({ ...process.env, GNUPGHOME: key.gnupgHome })

// The apt repository, with apt-ftparchive: every version of every package stays installable (a pin
// to an older release, DD_AGENT_MINOR_VERSION=52.0 beside 52.1). reprepro, used before, keeps one
// version per package (Debian 12's 5.3 has no Limit:): a second version replaced the first.
async function aptRepo(input: RepoInput): Promise<string> {
  const { product, key } = input
  const out = path.join(input.outDir, 'apt')
  const component = String(input.agentMajor)
  const suite = product.repository.channel
  // pool/<component>/<first letter>/<package>/<file>, as Debian lays out its archive.
  for (const deb of input.debs) {
    const name = (await $({ quiet: true })`dpkg-deb --field ${deb} Package`).stdout.trim()
    const pool = path.join(out, 'pool', component, name[0], name)
    mkdirSync(pool, { recursive: true })
    copyFileSync(deb, path.join(pool, path.basename(deb)))
  }
  const dists = path.join(out, 'dists', suite)
  const archs = product.architectures.map((a) => a.deb)
  for (const arch of archs) {
    const dir = path.join(dists, component, `binary-${arch}`)
    mkdirSync(dir, { recursive: true })
    // Paths in the index are relative to the repository root; arch: all packages are in every index.
    const index = (await $({ quiet: true, cwd: out })`apt-ftparchive --arch ${arch} packages ${path.join('pool', component)}`).stdout
    writeFileSync(path.join(dir, 'Packages'), index)
    await runLogged(['gzip', '-9nkf', 'Packages'], { cwd: dir, log: input.log })
  }
  const releaseIndex = (await $({ quiet: true, cwd: dists })`apt-ftparchive ${[
    '-o', `APT::FTPArchive::Release::Origin=${product.vendor}`, '-o', `APT::FTPArchive::Release::Label=${product.name}`,
    '-o', `APT::FTPArchive::Release::Suite=${suite}`, '-o', `APT::FTPArchive::Release::Codename=${suite}`,
    '-o', `APT::FTPArchive::Release::Components=${component}`, '-o', `APT::FTPArchive::Release::Architectures=${archs.join(' ')}`,
    '-o', `APT::FTPArchive::Release::Description=${product.summary}`,
  ]} release .`).stdout
  writeFileSync(path.join(dists, 'Release'), releaseIndex)
  const release = path.join(dists, 'Release')
  await sign(release, key, input.log, { clear: true, output: path.join(dists, 'InRelease') })
  await sign(release, key, input.log, { output: path.join(dists, 'Release.gpg') })
  return out
}

async function rpmArch(file: string): Promise<string> {
  return (await $({ quiet: true })`rpm -qp --qf ${'%{ARCH}'} ${file}`).stdout.trim()
}

// Signs in place: an RSA signature over the header and over header+payload (--rpmv3), which is
// what RHEL 7's rpm 4.11 checks.
async function signRpm(file: string, key: SigningKey, log: string): Promise<void> {
  await runLogged([
    'rpmsign', '--addsign', '--rpmv3',
    '--define', `_gpg_name ${key.fingerprint}`, '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_path ${key.gnupgHome}`,
    '--define', '_gpg_digest_algo sha256',
    file,
  ], { cwd: path.dirname(file), env: gpgEnv(key), log })
}

const RPM_FLAVOURS = ['rhel', 'suse'] as const

// A flavour's RPM repository of one architecture, relative to the repository root.
export function rpmRepoPath(product: Product, flavour: (typeof RPM_FLAVOURS)[number], agentMajor: number, arch: string): string {
  return path.join(flavour === 'rhel' ? 'rpm' : 'suse', product.repository.channel, String(agentMajor), arch)
}

// Every RPM repository of a tree (each flavour, each architecture), relative to its root.
export const rpmRepoPaths = (product: Product, agentMajor: number): string[] =>
  RPM_FLAVOURS.flatMap((flavour) => product.architectures.map((a) => rpmRepoPath(product, flavour, agentMajor, a.rpm)))

async function rpmRepos(input: RepoInput, flavour: 'rhel' | 'suse'): Promise<string[]> {
  const { product, key } = input
  const byArch = new Map<string, string[]>()
  for (const file of input.rpms[flavour]) {
    const arch = await rpmArch(file)
    // noarch packages go into every architecture's repository.
    for (const a of arch === 'noarch' ? product.architectures.map((x) => x.rpm) : [arch]) byArch.set(a, [...(byArch.get(a) ?? []), file])
  }
  const dirs: string[] = []
  for (const [arch, files] of byArch) {
    const dir = path.join(input.outDir, rpmRepoPath(product, flavour, input.agentMajor, arch))
    mkdirSync(dir, { recursive: true })
    for (const file of files) {
      const dest = path.join(dir, path.basename(file))
      copyFileSync(file, dest)
      await signRpm(dest, key, input.log)
    }
    await writeRpmMetadata(dir, key, input.log)
    dirs.push(dir)
  }
  return dirs
}

// The repository metadata of the RPMs in dir (rewritten if there is one), with its detached
// signature (repo_gpgcheck) and the public key beside it.
export async function writeRpmMetadata(dir: string, key: SigningKey, log: string): Promise<void> {
  // gzip metadata: RHEL 7's yum cannot read the default zstd/xz.
  await runLogged(['createrepo_c', '--general-compress-type=gz', '--database', dir], { cwd: dir, env: gpgEnv(key), log })
  const repomd = path.join(dir, 'repodata', 'repomd.xml')
  await sign(repomd, key, log)
  writeFileSync(`${repomd}.key`, key.publicKey)
}

export async function buildRepos(input: RepoInput): Promise<RepoResult> {
  rmSync(input.outDir, { recursive: true, force: true })
  mkdirSync(path.join(input.outDir, 'keys'), { recursive: true })
  const keyFile = path.join(input.outDir, 'keys', input.product.repository.keyFile)
  writeFileSync(keyFile, input.key.publicKey)
  return {
    apt: await aptRepo(input),
    rpm: { rhel: await rpmRepos(input, 'rhel'), suse: await rpmRepos(input, 'suse') },
    keyFile,
  }
}
