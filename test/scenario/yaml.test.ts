import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {stringify} from 'yaml'
import {MAX_DEPTH, MAX_FILE_BYTES, ScenarioFileError} from '../../src/scenario/json-tree.js'
import {listBuiltins, loadScenario, readScenarioFile, ScenarioLoadError} from '../../src/scenario/load.js'
import type {Step} from '../../src/scenario/schema.js'
import {parseScenario} from '../../src/scenario/validate.js'

/** The error a YAML text gets, as line and reason (one line, a ScenarioFileError). */
function refusal(text: string): {line: number; reason: string} {
  try {
    parseScenario(text, {format: 'yaml'})
  } catch (error) {
    expect(error, text).to.be.instanceOf(ScenarioFileError)
    const e = error as ScenarioFileError
    expect(e.reason).to.not.include('\n')
    return {line: e.line, reason: e.reason}
  }
  throw new Error(`accepted: ${text}`)
}

/** A YAML scenario with these step lines from line 5 on (line 4 is "steps:"). */
function withSteps(...steps: string[]): string {
  return ['# a test scenario', 'name: t', 'summary: a test', 'steps:', ...steps, ''].join('\n')
}

/** Steps without their lines, which differ between a JSON file and its YAML twin. */
function withoutLines(steps: Step[]): Omit<Step, 'line'>[] {
  return steps.map(({line: _line, ...rest}) => rest)
}

describe('scenario files in YAML', () => {
  it('reads every built-in written as YAML into the same scenario as its JSON', () => {
    for (const builtin of listBuiltins()) {
      const fromJson = readScenarioFile(builtin.file)
      const yaml = stringify(JSON.parse(fs.readFileSync(builtin.file, 'utf8')), {lineWidth: 0})
      const fromYaml = parseScenario(`# ${builtin.name}, in YAML\n${yaml}`, {format: 'yaml'})
      expect(withoutLines(fromYaml.steps), builtin.name).to.deep.equal(withoutLines(fromJson.steps))
      expect({...fromYaml, steps: []}).to.deep.equal({...fromJson, steps: []})
    }
  })

  it('gives each step the line it starts on, with comments, flow and block styles', () => {
    const scenario = parseScenario(
      withSteps(
        '  - say: hello # a comment',
        '  - {fault: kill, node: leader}',
        '  # a comment line between steps',
        '  - expect: leader',
        '    not: old-leader',
        '    within: 2s',
        '  - publish: 5',
        '    topic: demo',
        '  - fault: partition',
        '    groups: [[0], [1, 2]]',
        '  - sleep: 500ms',
        '    text: >',
        '      breathe in,',
        '      breathe out',
        '  - say: no',
      ),
      {format: 'yaml'},
    )
    expect(scenario.steps.map((s) => s.line)).to.deep.equal([5, 6, 8, 11, 13, 15, 19])
    expect(scenario.steps[2]).to.deep.include({kind: 'expect', condition: 'leader', not: 'old-leader', withinMs: 2000})
    expect(scenario.steps[3]).to.deep.include({kind: 'publish', count: 5, topic: 'demo'})
    expect(scenario.steps[4]).to.deep.include({fault: 'partition', groups: [[0], [1, 2]]})
    expect(scenario.steps[5]).to.deep.include({kind: 'sleep', ms: 500, text: 'breathe in, breathe out\n'})
    // YAML 1.2: no is text, not false.
    expect(scenario.steps[6]).to.deep.include({kind: 'say', say: 'no'})
  })

  it('names the YAML line of every kind of problem', () => {
    const cases: [string, number, RegExp][] = [
      // The validator's errors, at YAML lines.
      [withSteps('  - say: a', '  - faul: kill'), 6, /step 2: unknown step kind "faul"/],
      [withSteps('  - say: a', '  - fault: kill', '    node: boss'), 7, /step 2: "node": unknown node "boss"/],
      [withSteps('  - publish: ten'), 5, /"publish" \(how many messages\) must be a whole number from 1 to 10000, not the text "ten"/],
      [withSteps('  - sleep: true'), 5, /must be a duration such as "2s"/],
      [withSteps('  - say: a', '    nod: 1'), 6, /unknown field "nod"/],
      [withSteps('  - say:'), 5, /"say" must be text .*, not null/],
      ['name: t\nsummary: s\nsteps:\n  say: a\n', 4, /"steps" must be a list of steps, not an object/],
      ['name: t\n\nsummary: s\n', 1, /the scenario has no "steps"/],
      // YAML's loose typing: what is not JSON-like data is refused or stays text.
      [withSteps('  - publish: 0x10'), 5, /"0x10" is a number only in YAML/],
      ['name: t\nsummary: s\nnodes: .inf\nsteps: [{say: a}]\n', 3, /".inf" is a number only in YAML/],
      [withSteps('  - publish: on'), 5, /must be a whole number from 1 to 10000, not the text "on"/],
      [withSteps('  - expect: leader', '    within: 2001-12-14'), 6, /"2001-12-14" is not a duration/],
      [withSteps('  - sleep: 1e400'), 5, /too large/],
      // Syntax, at the line the reader stops.
      [withSteps('  - say: a', '  - fault: kill', ' node: 0'), 7, /^YAML syntax: All mapping items must start at the same column \(column 1\)$/],
      [withSteps('  - say: a', '   - say: b'), 6, /^YAML syntax: All sequence items must start at the same column \(column 4\)$/],
      [withSteps('  - say: a: b'), 5, /^YAML syntax: Nested mappings are not allowed in compact mappings/],
      [withSteps('  - say: a', '\t- say: b'), 6, /^YAML syntax: Tabs are not allowed as indentation/],
      // A YAML quote may span lines: the reader finds it unclosed at the end of the file.
      [withSteps('  - say: "a', '  - say: b'), 7, /^YAML syntax: Missing closing "quote/],
      [withSteps('  - {fault: kill, node: 0', '  - say: b'), 6, /^YAML syntax: /],
      // Hostile constructs, each refused at its line.
      [withSteps('  - say: &a hello', '  - say: *a'), 5, /the anchor &a is not taken/],
      [withSteps('  - say: a', '  - say: *a'), 6, /the alias \*a is not taken: a scenario file has no anchors or aliases/],
      ['name: t\nsummary: s\nname: u\nsteps: [{say: a}]\n', 3, /the field "name" is given twice/],
      [withSteps('  - say: a', '    say: b'), 6, /the field "say" is given twice/],
      [withSteps('  - say: a') + '---\nname: u\n', 6, /a second YAML document \(after "---"\): a scenario file holds one/],
      [withSteps('  - say: !shout a'), 5, /the tag !shout is not taken/],
      [withSteps('  - say: !!binary aGVsbG8='), 5, /the tag !!binary is not taken/],
      ['%YAML 1.1\n---\nname: t\n', 1, /the directive "%YAML 1.1" is not taken/],
      ['', 1, /the file is empty/],
      ['# only a comment\n', 1, /the file is empty/],
      ['- say: a\n', 1, /a scenario is one YAML mapping/],
      ['? [a, b]\n: c\n', 1, /a field name must be a word or text/],
    ]
    for (const [text, line, reason] of cases) {
      const error = refusal(text)
      expect(error.reason, text).to.match(reason)
      expect(error.line, `${text}\n-> ${error.reason}`).to.equal(line)
    }
  })

  it('refuses hostile files cleanly: too big, too deep, a billion laughs', () => {
    expect(refusal(`# ${'x'.repeat(MAX_FILE_BYTES)}\n`).reason).to.match(/larger than 256 KiB/)
    // Deeper than the YAML composer's recursion can go: refused before it runs, on the first line.
    for (const deep of ['['.repeat(5000), '- '.repeat(5000) + 'x', `steps:\n${Array.from({length: MAX_DEPTH + 2}, (_, i) => `${' '.repeat(i + 1)}- `).join('\n')}x\n`]) {
      const error = refusal(deep)
      expect(error.reason).to.equal(`nested deeper than ${MAX_DEPTH} levels`)
    }
    const laughs = ['name: t', 'a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for (let i = 1; i < 9; i++) laughs.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(9).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`)
    expect(refusal(laughs.join('\n'))).to.deep.equal({line: 2, reason: 'the anchor &a is not taken: a scenario file has no anchors or aliases'})
  })

  it('reads a .yaml or .yml path as YAML, and its error names file and line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-scenario-yaml-test-'))
    try {
      for (const name of ['mine.yaml', 'mine.yml']) {
        const file = path.join(dir, name)
        fs.writeFileSync(file, withSteps('  - say: a', '  - fault: kill', '    node: 0'))
        expect(loadScenario(file).steps.map((s) => s.line)).to.deep.equal([5, 6])
        fs.writeFileSync(file, withSteps('  - say: a', '  - fault: kil', '    node: 0'))
        expect(() => loadScenario(file)).to.throw(ScenarioLoadError, `${file}:6: step 2: unknown fault "kil"`)
      }
      // A bare name ending in .yaml is a path, not a built-in's name.
      expect(() => loadScenario('none.yaml')).to.throw(ScenarioLoadError, /cannot read none\.yaml: ENOENT/)
      // The same YAML in a .json file is read as JSON.
      const json = path.join(dir, 'mine.json')
      fs.writeFileSync(json, withSteps('  - say: a'))
      expect(() => loadScenario(json)).to.throw(ScenarioLoadError, /mine\.json:1: JSON has no comments/)
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })
})
