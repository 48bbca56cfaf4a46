// Maintainer scripts, written once per concern and rendered per format: the per-format scripts in
// packaging/scripts/{deb,rpm}/ call the shell library's definitions (shell-library.ts).
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { PACKAGING } from './paths.ts'
import { type Product, templateValues } from './product.ts'
import { definitionsFor, linkShellLibrary } from './shell-library.ts'
import { render } from './template.ts'

export function maintainerScripts(p: Product, kind: 'deb' | 'rpm'): Record<string, string> {
  const values = templateValues(p)
  const dir = path.join(PACKAGING, 'scripts', kind)
  return Object.fromEntries(
    readdirSync(dir).sort().map((name) => {
      const template = readFileSync(path.join(dir, name), 'utf8')
      if (kind === 'deb') return [name, linkShellLibrary(p, template, values, name)]
      // rpm: scriptlet bodies, the definitions first.
      const body = render(template, values, name)
      return [name, `${definitionsFor(body, p)}\n\n${body}`]
    }),
  )
}
