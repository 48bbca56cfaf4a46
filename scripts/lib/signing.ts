// The repository signing key. A release imports its key from the environment
// (DD_SIGNING_KEY_FILE: an armored secret key); anywhere else a throwaway key is generated once per
// build directory, so that the install script, the repositories and the tests agree on one key.
// RSA 4096 primary key signing directly, SHA-256 self-signatures: what RHEL 7's rpm can verify.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { $ } from 'zx'
import { runLogged } from './exec.ts'
import { buildDir } from './paths.ts'

export interface SigningKey {
  gnupgHome: string
  fingerprint: string
  // The armored public key, as published next to the repositories.
  publicKey: string
  throwaway: boolean
}

// Where the key lives unless told otherwise: the build directory's own.
export const defaultSigningDir = path.join(buildDir, 'signing')
// The GnuPG home in a key's directory (gpg starts an agent of its own for each).
export const gnupgHome = (dir: string) => path.join(dir, 'gnupg')

const THROWAWAY_UID = 'datadog-fips-proxy throwaway test key (not for release) <fips-proxy-test@example.com>'

async function secretKeyFingerprints(home: string): Promise<string[]> {
  const out = (await $({ quiet: true })`gpg --homedir ${home} --batch --with-colons --list-secret-keys`).stdout
  return [...out.matchAll(/^fpr:+([0-9A-F]{40}):/gm)].map((m) => m[1])
}

export async function signingKey(opts: { release?: boolean; dir?: string } = {}): Promise<SigningKey> {
  const dir = opts.dir ?? defaultSigningDir
  const home = gnupgHome(dir)
  const keyFile = process.env.DD_SIGNING_KEY_FILE
  if (opts.release && !keyFile) throw new Error('a release signs with its own key: set DD_SIGNING_KEY_FILE to the armored secret key')
  const marker = path.join(dir, 'source')
  const source = keyFile ? `file:${keyFile}` : 'throwaway'
  if (!existsSync(marker) || readFileSync(marker, 'utf8') !== source) {
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(home, { recursive: true, mode: 0o700 })
    if (keyFile) {
      await $({ quiet: true })`gpg --homedir ${home} --batch --import ${keyFile}`
    } else {
      await $({ quiet: true })`gpg --homedir ${home} --batch --passphrase ${''} --cert-digest-algo SHA256 --quick-gen-key ${THROWAWAY_UID} rsa4096 sign never`
    }
    writeFileSync(marker, source)
  }
  const fingerprints = await secretKeyFingerprints(home)
  if (fingerprints.length !== 1) throw new Error(`expected one secret signing key in ${home}, found ${fingerprints.length}`)
  const publicKey = (await $({ quiet: true })`gpg --homedir ${home} --batch --armor --export ${fingerprints[0]}`).stdout
  return { gnupgHome: home, fingerprint: fingerprints[0], publicKey, throwaway: !keyFile }
}

// gpg starts an agent for a GnuPG home on first use and leaves it running when the build is over.
// Stops the agent of the key in dir, if any (a later gpg call starts another).
export async function stopSigningAgent(dir = defaultSigningDir): Promise<void> {
  const home = gnupgHome(dir)
  if (existsSync(home)) await $({ quiet: true, nothrow: true })`gpgconf --homedir ${home} --kill gpg-agent`
}

// Runs fn, then stops the agent of the key in dir, so that an entry point that signs, or a test
// run, leaves no daemon behind, whether fn succeeds or fails.
export async function withSigningAgent<T>(fn: () => Promise<T>, dir = defaultSigningDir): Promise<T> {
  try {
    return await fn()
  } finally {
    await stopSigningAgent(dir)
  }
}

// A signature of file by the key (SHA-256, its primary key), armored: detached (default output
// <file>.asc), or the file itself clear-signed (apt's InRelease).
export async function sign(file: string, key: SigningKey, log: string, opts: { clear?: boolean; output?: string } = {}): Promise<string> {
  const output = opts.output ?? `${file}.asc`
  await runLogged(['gpg', '--batch', '--yes', '--local-user', key.fingerprint, '--digest-algo', 'SHA256', '--armor',
    opts.clear ? '--clearsign' : '--detach-sign', '--output', output, file],
  { cwd: path.dirname(file), env: { ...process.env, GNUPGHOME: key.gnupgHome }, log })
  return output
}
