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
function parseDefinitions(library: string): Definition[] {
  return library
    .split(/\n\s*\n/)
    .map((text) => ({ text: text.trim(), name: text.match(/^(\w+)(?:\(\)|=)/m)?.[1] ?? '' }))
    .filter((d) => d.name !== '')
}

const uses = (text: string, name: string) => new RegExp(`(^|[^\\w$])${name}\\b|\\$\\{?${name}\\b`).test(text.replace(/^\s*#.*$/gm, ''))

// The definitions a script needs, following uses between definitions, in the library's order.
function definitionsFor(script: string, definitions: Definition[]): string {
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

// The shared definitions (packaging/scripts/functions.sh) rendered for the product.
function shellLibrary(p: Product): Definition[] {
  return parseDefinitions(render(readFileSync(path.join(PACKAGING, 'scripts', 'functions.sh'), 'utf8'), templateValues(p), 'functions.sh'))
}

// Renders a whole script whose @FUNCTIONS@ line receives the shared definitions it uses (the
// deb maintainer scripts, the install script).
export function renderWithDefinitions(p: Product, template: string, values: Record<string, string | number>, name: string): string {
  const body = render(template, { ...values, FUNCTIONS: '@FUNCTIONS@' }, name)
  return body.replace('@FUNCTIONS@', () => definitionsFor(body, shellLibrary(p)))
}

export function maintainerScripts(p: Product, kind: 'deb' | 'rpm'): Record<string, string> {
  const values = templateValues(p)
  const dir = path.join(PACKAGING, 'scripts', kind)
  return Object.fromEntries(
    readdirSync(dir).sort().map((name) => {
      const template = readFileSync(path.join(dir, name), 'utf8')
      if (kind === 'deb') return [name, renderWithDefinitions(p, template, values, name)]
      // rpm: scriptlet bodies, the definitions first.
      const body = render(template, values, name)
      return [name, `${definitionsFor(body, shellLibrary(p))}\n\n${body}`]
    }),
  )
}
