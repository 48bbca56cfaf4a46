#!/usr/bin/env tsx
// make image: the proxy as a linux/amd64 + linux/arm64 OCI image (scripts/lib/image.ts), from the
// proxy trees that `make proxy` built, into dist/image/ (an OCI image layout) and
// dist/<name>-<version>.oci.tar (the same, which `docker load` and `podman load` read), with the
// component list, the Helm values and the ECS task definition beside it. No container engine runs.
import path from 'node:path'
import { $ } from 'zx'
import { buildImage, dockerLoadTags, imageName } from './lib/image.ts'
import { writePlatformFiles } from './lib/image-platforms.ts'
import { main } from './lib/main.ts'
import { sourceDateEpoch } from './lib/packages.ts'
import { buildDir, cacheDir, distDir, repoRoot } from './lib/paths.ts'
import { loadProduct } from './lib/product.ts'
import { proxyOutDir } from './lib/proxy-build.ts'

// The commit the image is built from, marked when the work tree differs from it.
async function sourceRevision(): Promise<string> {
  const head = (await $({ quiet: true, cwd: repoRoot })`git rev-parse HEAD`).stdout.trim()
  const dirty = (await $({ quiet: true, cwd: repoRoot })`git status --porcelain --untracked-files=no`).stdout.trim() !== ''
  return dirty ? `${head}-dirty` : head
}

await main(async () => {
  const product = loadProduct()
  const image = await buildImage({
    product, outDir: distDir, workDir: path.join(buildDir, 'image'), cacheDir: cacheDir(),
    sourceDateEpoch: await sourceDateEpoch(), revision: await sourceRevision(), proxyTree: proxyOutDir,
  })
  const platformFiles = writePlatformFiles(product, distDir)
  console.log(`\nimage index ${image.index.digest} (podman load: the host's architecture as ${imageName(product)})`)
  for (const i of image.images) {
    const arch = product.architectures.find((a) => a.name === i.arch)!
    console.log(`  ${i.platform.os}/${i.platform.architecture}  ${i.manifest.digest}  ${(i.layer.size / 1048576).toFixed(1)} MiB compressed  (docker load: ${dockerLoadTags(product, arch).join(', ')})`)
  }
  console.log(`${path.relative(repoRoot, image.archive)}, dist/image/ (OCI layout), ${platformFiles.map((f) => path.relative(repoRoot, f)).join(', ')}`)
})
