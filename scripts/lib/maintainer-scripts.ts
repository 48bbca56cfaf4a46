// Maintainer scripts, written once per concern and rendered per format. The concerns (create the
// user, generate fipsmodule.cnf, remove what the package generated, detect the init system) are
// shell definitions in packaging/scripts/functions.sh; the per-format scripts in
// packaging/scripts/{deb,rpm}/ call them, and each gets exactly the definitions it uses.
import { readFileSync, readdirSync } from 'node:fs'
import path from 'node:path'
import { PACKAGING } from './paths.ts'
import { type Product, templateValues } from './product.ts'
import { render } from './template.ts'

interface Definition {
  name: string
  text: string
}

// One definition per blank-line separated block: `name() { ... }` or `name=value`, with its comments.
export function parseDefinitions(library: string): Definition[] {
  return library
    .split(/\n\s*\n/)
    .map((text) => ({ text: text.trim(), name: text.match(/^(\w+)(?:\(\)|=)/m)?.[1] ?? '' }))
    .filter((d) => d.name !== '')
}

const uses = (text: string, name: string) => new RegExp(`(^|[^\\w$])${name}\\b|\\$\\{?${name}\\b`).test(text.replace(/^\s*#.*$/gm, ''))

// The definitions a script needs, following uses between definitions, in the library's order.
export function definitionsFor(script: string, definitions: Definition[]): string {
  const needed = new Set<string>()
  const visit = (text: string) => {
    for (const d of definitions) {
      if (!needed.has(d.name) && uses(text, d.name)) {
        needed.add(d.name)
        visit(d.text.replace(new RegExp(`^${d.name}(\\(\\)|=)`, 'm'), ''))
      }
    }
  }
  visit(script)
  return definitions.filter((d) => needed.has(d.name)).map((d) => d.text).join('\n\n')
}

export function maintainerScripts(p: Product, kind: 'deb' | 'rpm'): Record<string, string> {
  const values = templateValues(p)
  const library = parseDefinitions(render(readFileSync(path.join(PACKAGING, 'scripts', 'functions.sh'), 'utf8'), values, 'functions.sh'))
  const dir = path.join(PACKAGING, 'scripts', kind)
  return Object.fromEntries(
    readdirSync(dir).sort().map((name) => {
      const body = render(readFileSync(path.join(dir, name), 'utf8'), { ...values, FUNCTIONS: '@FUNCTIONS@' }, name)
      const functions = definitionsFor(body, library)
      // deb: whole scripts with a @FUNCTIONS@ slot; rpm: scriptlet bodies, the definitions first.
      const text = kind === 'deb' ? body.replace('@FUNCTIONS@', functions) : `${functions}\n\n${body}`
      return [name, text]
    }),
  )
}
