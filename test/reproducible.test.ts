// Two builds of the same packages with the same SOURCE_DATE_EPOCH are byte-identical, and so are
// their SBOMs; a warm build takes each package from the cache of packages by input digest.
import test from 'ava'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SBOM_FILE, buildPackages } from '../scripts/lib/packages.ts'
import { loadProduct } from '../scripts/lib/product.ts'

test('two package builds give the same sha256 for every package; a warm build reuses the cached ones', async (t) => {
  const full = loadProduct()
  const product = { ...full, architectures: full.architectures.filter((a) => a.name === 'x86_64') }
  const build = async (packageCache: string) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'repro-'))
    const built = await buildPackages({ product, outDir: dir, sourceDateEpoch: 1_750_000_000, workDir: path.join(dir, 'work'), packageCache })
    return { built, sbom: readFileSync(path.join(dir, SBOM_FILE), 'utf8') }
  }
  const newCache = () => mkdtempSync(path.join(os.tmpdir(), 'package-cache-'))
  // Each of the two builds packs everything itself: an empty cache each.
  const cache = newCache()
  const first = await build(cache)
  const second = await build(newCache())
  t.is(first.built.length, product.packages.length)
  t.deepEqual(second.built.map((p) => [p.file, p.sha256]), first.built.map((p) => [p.file, p.sha256]))
  t.is(second.sbom, first.sbom, 'the SBOM too')

  // The first build's cache: one package per digest of inputs. A warm build takes them from there,
  // which an altered cached file shows.
  const cached = readdirSync(cache, { recursive: true, encoding: 'utf8' }).filter((f) => /\.(deb|rpm)$/.test(f))
  t.is(cached.length, product.packages.length)
  writeFileSync(path.join(cache, cached[0]), 'altered')
  const warm = await build(cache)
  const reused = warm.built.find((p) => p.file === path.basename(cached[0]))!
  t.not(reused.sha256, first.built.find((p) => p.file === reused.file)!.sha256, 'the cached file, not a new build')
  t.deepEqual(warm.built.filter((p) => p !== reused).map((p) => p.sha256), first.built.filter((p) => p.file !== reused.file).map((p) => p.sha256))
})
