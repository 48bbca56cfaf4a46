#!/usr/bin/env tsx
// The tools of make targets (scripts/lib/tools.ts), checked before the target's first step:
//   tsx scripts/tools.ts packages     the tools `make packages` runs; as root, missing ones installed
//   tsx scripts/tools.ts deps         every target's packages, installed (make deps; root)
import { $ } from 'zx'
import { main } from './lib/main.ts'
import { TARGETS, type Target, allPackages, ensureTools } from './lib/tools.ts'

await main(async () => {
  const args = process.argv.slice(2)
  if (args[0] === 'deps') {
    if (process.getuid?.() !== 0) throw new Error(`make deps installs Debian packages: run it as root (sudo make deps)`)
    await $({ stdio: 'inherit' })`apt-get update -qq`
    await $({ stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })`apt-get install -y -qq --no-install-recommends ${allPackages()}`
    return
  }
  const unknown = args.filter((a) => !(TARGETS as string[]).includes(a))
  if (!args.length || unknown.length) throw new Error(`usage: tools.ts deps | ${TARGETS.join('|')}...${unknown.length ? ` (unknown: ${unknown.join(' ')})` : ''}`)
  await ensureTools(args as Target[])
})
