// Semver order must be dpkg's and rpm's order: a property test over generated version pairs,
// checked against the real `dpkg --compare-versions` and rpm's own rpm.vercmp.
import test from 'ava'
import semver from 'semver'
import { $ } from 'zx'
import { PRERELEASE_WORDS, VersionError, packageVersions, upstreamVersion } from '../scripts/lib/version.ts'
import { rng } from './helpers/rng.ts'

function generate(count: number, seed = 20261126): string[] {
  const r = rng(seed)
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]
  const words = PRERELEASE_WORDS
  const out: string[] = []
  for (let i = 0; i < count; i++) {
    const core = [pick([0, 1, 2, 10]), pick([0, 1, 2, 9, 10, 11]), pick([0, 1, 3, 12])].join('.')
    const pre = r() < 0.6 ? `-${pick(words)}${Array.from({ length: pick([0, 1, 1, 2]) }, () => `.${pick([0, 1, 2, 9, 10, 11])}`).join('')}` : ''
    out.push(core + pre)
  }
  return out
}

const sign = (n: number) => Math.sign(n)

test('pre-releases map to tilde versions; release numbers come from the product', (t) => {
  t.is(upstreamVersion('1.2.0'), '1.2.0')
  t.is(upstreamVersion('1.2.0-rc.1'), '1.2.0~rc.1')
  const v = packageVersions('1.2.0-rc.1', { iteration: 3, suseSuffix: '.suse' })
  t.like(v, { deb: '1.2.0~rc.1-3', rpmVersion: '1.2.0~rc.1', rpmRelease: '3', suseRelease: '3.suse' })
})

test('invalid versions are refused with a clear message', (t) => {
  t.throws(() => upstreamVersion('1.2'), { instanceOf: VersionError, message: /not a semantic version/ })
  t.throws(() => upstreamVersion('v1.2.0'), { instanceOf: VersionError, message: /not a semantic version/ })
  t.throws(() => upstreamVersion('1.2.0+build.5'), { instanceOf: VersionError, message: /build metadata/ })
  t.throws(() => upstreamVersion('1.2.0-rc10'), { instanceOf: VersionError, message: /pre-release 'rc10'/ })
  t.throws(() => upstreamVersion('1.2.0-1'), { instanceOf: VersionError, message: /pre-release '1'/ })
  t.throws(() => upstreamVersion('1.2.0-alpha.beta'), { instanceOf: VersionError, message: /pre-release 'alpha\.beta'/ })
  t.throws(() => upstreamVersion('1.2.0-a.1'), { instanceOf: VersionError, message: /must be one of alpha, beta, dev, pre, rc/ })
})

test('dpkg and rpm order 400 generated version pairs exactly like semver', async (t) => {
  const versions = generate(800)
  const pairs = Array.from({ length: 400 }, (_, i) => [versions[2 * i], versions[2 * i + 1]] as const)
  pairs.push(['1.2.0-rc.1', '1.2.0'], ['1.2.0-rc.2', '1.2.0-rc.10'], ['1.2.0-alpha', '1.2.0-alpha.1'], ['1.2.0-beta.2', '1.2.0-rc.1'])

  const deb = (v: string) => packageVersions(v, { iteration: 1, suseSuffix: '.suse' }).deb
  const rpm = (v: string) => upstreamVersion(v)
  // rpm: one process evaluates every pair with rpm's own comparison.
  const lua = `local r = {} ${pairs.map(([a, b]) => `table.insert(r, rpm.vercmp("${rpm(a)}", "${rpm(b)}"))`).join(' ')} print(table.concat(r, "\\n"))`
  const rpmOrder = (await $({ quiet: true })`rpm --eval ${`%{lua: ${lua}}`}`).stdout.trim().split('\n').map(Number)
  t.is(rpmOrder.length, pairs.length)

  const mismatches: string[] = []
  for (const [i, [a, b]] of pairs.entries()) {
    const expected = sign(semver.compare(a, b))
    const dpkgLt = (await $({ nothrow: true, quiet: true })`dpkg --compare-versions ${deb(a)} lt ${deb(b)}`).exitCode === 0
    const dpkgEq = (await $({ nothrow: true, quiet: true })`dpkg --compare-versions ${deb(a)} eq ${deb(b)}`).exitCode === 0
    const dpkg = dpkgLt ? -1 : dpkgEq ? 0 : 1
    if (dpkg !== expected) mismatches.push(`dpkg: ${deb(a)} vs ${deb(b)} gives ${dpkg}, semver ${a} vs ${b} gives ${expected}`)
    if (sign(rpmOrder[i]) !== expected) mismatches.push(`rpm: ${rpm(a)} vs ${rpm(b)} gives ${rpmOrder[i]}, semver gives ${expected}`)
  }
  t.deepEqual(mismatches, [])
  t.true(pairs.some(([a, b]) => semver.compare(a, b) < 0) && pairs.some(([a, b]) => semver.compare(a, b) > 0), 'both orders are exercised')
})
