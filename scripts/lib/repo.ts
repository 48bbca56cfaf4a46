// Signed package repositories, laid out as the install script expects (see repository: in
// packaging/product.yaml):
//   apt/                                 reprepro: dists/<channel>/{Release,Release.gpg,InRelease}, pool/
//   rpm/<channel>/<major>/<arch>/        RHEL family: signed RPMs, repodata/ (gzip), repomd.xml.asc and .key
//   suse/<channel>/<major>/<arch>/       SUSE: the same
//   keys/<key file>                      the public signing key
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { runLogged } from './exec.ts'
import type { Product } from './product.ts'
import { type SigningKey, detachSign } from './signing.ts'

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

async function aptRepo(input: RepoInput): Promise<string> {
  const { product, key } = input
  const base = mkdtempSync(path.join(os.tmpdir(), 'reprepro-'))
  const out = path.join(input.outDir, 'apt')
  mkdirSync(path.join(base, 'conf'), { recursive: true })
  writeFileSync(path.join(base, 'conf', 'distributions'), [
    `Origin: ${product.vendor}`,
    `Label: ${product.name}`,
    `Codename: ${product.repository.channel}`,
    `Components: ${input.agentMajor}`,
    `Architectures: ${product.architectures.map((a) => a.deb).join(' ')}`,
    `Description: ${product.summary}`,
    `SignWith: ${key.fingerprint}`,
    '',
  ].join('\n'))
  try {
    for (const deb of input.debs) {
      await runLogged(['reprepro', '--basedir', base, '--outdir', out, 'includedeb', product.repository.channel, deb], { cwd: base, env: gpgEnv(key), log: input.log })
    }
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
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

async function rpmRepos(input: RepoInput, flavour: 'rhel' | 'suse'): Promise<string[]> {
  const { product, key } = input
  const top = flavour === 'rhel' ? 'rpm' : 'suse'
  const byArch = new Map<string, string[]>()
  for (const file of input.rpms[flavour]) {
    const arch = await rpmArch(file)
    // noarch packages go into every architecture's repository.
    for (const a of arch === 'noarch' ? product.architectures.map((x) => x.rpm) : [arch]) byArch.set(a, [...(byArch.get(a) ?? []), file])
  }
  const dirs: string[] = []
  for (const [arch, files] of byArch) {
    const dir = path.join(input.outDir, top, product.repository.channel, String(input.agentMajor), arch)
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
  await detachSign(repomd, key, log)
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
