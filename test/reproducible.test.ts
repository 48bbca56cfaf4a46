// Two builds of the same packages with the same SOURCE_DATE_EPOCH are byte-identical, and so are
// their SBOMs.
import test from 'ava'
import { mkdtempSync, readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SBOM_FILE, buildPackages } from '../scripts/lib/packages.ts'
import { loadProduct } from '../scripts/lib/product.ts'

test('two package builds give the same sha256 for every package', async (t) => {
  const full = loadProduct()
  const product = { ...full, architectures: full.architectures.filter((a) => a.name === 'x86_64') }
  const build = async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'repro-'))
    const built = await buildPackages({ product, outDir: dir, sourceDateEpoch: 1_750_000_000, workDir: path.join(dir, 'work') })
    return { built, sbom: readFileSync(path.join(dir, SBOM_FILE), 'utf8') }
  }
  const first = await build()
  const second = await build()
  t.is(first.built.length, product.packages.length)
  t.deepEqual(second.built.map((p) => [p.file, p.sha256]), first.built.map((p) => [p.file, p.sha256]))
  t.is(second.sbom, first.sbom, 'the SBOM too')
})
