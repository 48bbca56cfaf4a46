// Two builds of the same packages with the same SOURCE_DATE_EPOCH are byte-identical.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { buildPackages } from '../scripts/lib/packages.ts'
import { loadProduct } from '../scripts/lib/product.ts'

test('two package builds give the same sha256 for every package', async (t) => {
  const full = loadProduct()
  const product = { ...full, architectures: full.architectures.filter((a) => a.name === 'x86_64') }
  const build = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'repro-'))
    return buildPackages({ product, outDir: dir, sourceDateEpoch: 1_750_000_000, workDir: path.join(dir, 'work') })
  }
  const first = await build()
  const second = await build()
  t.is(first.length, product.packages.length)
  t.deepEqual(second.map((p) => [p.file, p.sha256]), first.map((p) => [p.file, p.sha256]))
})
