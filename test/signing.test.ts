// The signing key's agent: gpg starts one per GnuPG home and leaves it running; withSigningAgent
// (what make packages, make repos, the test run and the matrix sign in) stops it when done, also
// when the work fails, so that no build or test run leaves a daemon behind.
import test from 'ava'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { $ } from 'zx'
import { gnupgHome, sign, signingKey, withSigningAgent } from '../scripts/lib/signing.ts'

// Whether an agent of the home runs (gpg-connect-agent cannot tell: it exits 0 when none answers).
const agentRuns = async (home: string) =>
  (await $({ quiet: true, nothrow: true })`pgrep -f -- ${`gpg-agent --homedir ${home} `}`).exitCode === 0

// A throwaway key of its own, removed with its directory when the test ends.
async function keyDir(t: { teardown(fn: () => void): void }): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'signing-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  await signingKey({ dir })
  return dir
}

async function signSomething(dir: string): Promise<string> {
  const file = path.join(dir, 'payload')
  writeFileSync(file, 'signed\n')
  return sign(file, await signingKey({ dir }), path.join(dir, 'sign.log'))
}

test('a signature made in withSigningAgent verifies, and the agent that made it is gone afterwards', async (t) => {
  const dir = await keyDir(t)
  const home = gnupgHome(dir)
  const signature = await withSigningAgent(async () => {
    const asc = await signSomething(dir)
    t.true(await agentRuns(home), 'signing started an agent (else the check below proves nothing)')
    return asc
  }, dir)
  t.false(await agentRuns(home), `an agent still runs for ${home}`)
  const verify = await $({ quiet: true, nothrow: true })`gpg --homedir ${home} --batch --verify ${signature} ${signature.replace(/\.asc$/, '')}`
  t.is(verify.exitCode, 0, verify.stderr)
})

test('work that fails in withSigningAgent stops the agent too, and its error is the one reported', async (t) => {
  const dir = await keyDir(t)
  await t.throwsAsync(withSigningAgent(async () => {
    await signSomething(dir)
    throw new Error('the build failed after signing')
  }, dir), { message: 'the build failed after signing' })
  t.false(await agentRuns(gnupgHome(dir)))
})
