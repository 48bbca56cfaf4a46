#!/usr/bin/env tsx
// Runs a command with the container engine of MATRIX_ENGINE available, e.g. the test suite:
//   MATRIX_ENGINE=docker tsx test/harness/with-engine.ts ava
// With docker and no daemon answering on DOCKER_HOST, one is started for the command (DOCKER_HOST
// is set for it) and stopped afterwards; the run fails if the host's mount table changed. The gpg
// agent that the tests' signing started is stopped too.
import { $ } from 'zx'
import { withContainerEngine } from './engine-session.ts'
import { main } from '../../scripts/lib/main.ts'
import { withSigningAgent } from '../../scripts/lib/signing.ts'

await main(async () => {
  const argv = process.argv.slice(2)
  if (!argv.length) throw new Error('usage: with-engine.ts COMMAND [ARG...]')
  await withSigningAgent(() => withContainerEngine(async () => {
    const r = await $({ stdio: 'inherit', nothrow: true, env: process.env })`${argv}`
    if (r.exitCode !== 0) throw new Error(`${argv.join(' ')} exited ${r.exitCode}`)
  }))
})
