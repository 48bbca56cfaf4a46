// The signed repositories: RPM signatures that rpm -K verifies (and that break when a byte
// changes), signed repomd.xml, and apt refusing a tampered Release file or package.
import test from 'ava'
import { cpSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { loadProduct } from '../scripts/lib/product.ts'
import { signingKey } from '../scripts/lib/signing.ts'
import { AGENT_MAJOR } from './helpers/dist.ts'
import { servedRpmRepos, testRepository, withInstallerHost } from './helpers/installer-host.ts'

const product = loadProduct()
const q = { quiet: true, nothrow: true }

const rpmDirs = (served: string) => servedRpmRepos(served, product)

test('every RPM is signed with the release key and rpm -K verifies it; one changed byte breaks it', async (t) => {
  const served = await testRepository()
  const key = await signingKey()
  const db = mkdtempSync(path.join(os.tmpdir(), 'rpmdb-'))
  await $(q)`rpm --dbpath ${db} --import ${path.join(served, 'keys', product.repository.keyFile)}`
  const rpms = rpmDirs(served).flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.rpm')).map((f) => path.join(d, f)))
  t.true(rpms.length >= 8, `${rpms.length} RPMs`)
  for (const file of rpms) {
    const r = await $(q)`rpm --dbpath ${db} -Kv ${file}`
    t.is(r.exitCode, 0, r.stdout + r.stderr)
    t.regex(r.stdout, new RegExp(`Header V4 RSA/SHA256 Signature, key ID ${key.fingerprint.slice(-8).toLowerCase()}: OK`), file)
    t.regex(r.stdout, /V4 RSA\/SHA256 Signature, key ID [0-9a-f]+: OK[\s\S]*V4 RSA\/SHA256 Signature, key ID [0-9a-f]+: OK/, `${file}: header and header+payload signatures (what rpm 4.11 checks)`)
  }
  const tampered = path.join(mkdtempSync(path.join(os.tmpdir(), 'tampered-')), path.basename(rpms[0]))
  const bytes = readFileSync(rpms[0])
  bytes[bytes.length - 100] ^= 0xff
  writeFileSync(tampered, bytes)
  t.not((await $(q)`rpm --dbpath ${db} -K ${tampered}`).exitCode, 0, 'a tampered RPM fails rpm -K')
})

test('repomd.xml is signed (repomd.xml.asc) and the key is published next to it (repomd.xml.key)', async (t) => {
  const served = await testRepository()
  const key = await signingKey()
  for (const dir of rpmDirs(served)) {
    const repomd = path.join(dir, 'repodata', 'repomd.xml')
    const r = await $({ ...q, env: { ...process.env, GNUPGHOME: key.gnupgHome } })`gpg --batch --verify ${repomd}.asc ${repomd}`
    t.is(r.exitCode, 0, r.stderr)
    t.is(readFileSync(`${repomd}.key`, 'utf8'), key.publicKey)
    t.regex(readFileSync(repomd, 'utf8'), /primary\.xml\.gz/, 'gzip metadata, readable by RHEL 7')
  }
})

test.serial('apt with signed-by refuses a tampered Release file and a tampered package', async (t) => {
  const original = await testRepository()
  for (const [what, tamper, expected] of [
    ['Release file', (dir: string) => {
      const file = path.join(dir, 'apt', 'dists', product.repository.channel, 'InRelease')
      writeFileSync(file, readFileSync(file, 'utf8').replace(/^Label: .*$/m, 'Label: tampered'))
    // apt's own reason, then the script's: not any failure of apt.
    }, /(BADSIG|The following signatures were invalid)[\s\S]*apt-get update .* failed/],
    ['package', (dir: string) => {
      const pool = path.join(dir, 'apt', 'pool', String(AGENT_MAJOR), 'd', product.name)
      const file = path.join(pool, readdirSync(pool).find((f) => f.endsWith('_amd64.deb'))!)
      const bytes = readFileSync(file)
      bytes[bytes.length - 1000] ^= 0xff
      writeFileSync(file, bytes)
    }, /Hash Sum mismatch[\s\S]*apt-get install .* failed/],
  ] as const) {
    const served = path.join(mkdtempSync(path.join(os.tmpdir(), 'tampered-repo-')), 'served')
    cpSync(original, served, { recursive: true })
    tamper(served)
    await withInstallerHost(async (h) => {
      const r = await h.install({ DD_API_KEY: 'abc123', DD_FIPS_MODE: '1' })
      t.is(r.code, 1, `${what}: ${r.out}`)
      t.regex(r.out, expected, what)
      t.not((await h.sh(`dpkg-query -W ${product.name}`)).code, 0, `${what}: nothing installed`)
    }, served)
  }
})
