import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import {expect} from 'chai'
import {MAX_DEPTH, MAX_FILE_BYTES, ScenarioFileError} from '../../src/scenario/json-tree.js'
import {listBuiltins, loadScenario, readScenarioFile, ScenarioLoadError} from '../../src/scenario/load.js'
import {parseScenario} from '../../src/scenario/validate.js'

/** The error a text gets, as line and reason. */
function refusal(text: string, options: {nodes?: number} = {}): {line: number; reason: string} {
  try {
    parseScenario(text, options)
  } catch (error) {
    expect(error).to.be.instanceOf(ScenarioFileError)
    const e = error as ScenarioFileError
    expect(e.reason).to.not.include('\n')
    return {line: e.line, reason: e.reason}
  }
  throw new Error(`accepted: ${text}`)
}

/** A scenario file with these step lines, one step per line from line 5 on. */
function withSteps(...steps: string[]): string {
  return ['{', '  "name": "t",', '  "summary": "a test",', '  "steps": [', steps.map((s) => `    ${s}`).join(',\n'), '  ]', '}'].join('\n')
}

describe('scenario files: reading and validating', () => {
  it('reads a valid file into steps, with each step’s line and the defaults', () => {
    const scenario = parseScenario(
      withSteps(
        '{"say": "hello"}',
        '{"fault": "kill", "node": "leader"}',
        '{"expect": "leader", "not": "old-leader", "within": "2s"}',
        '{"publish": 5, "topic": "demo"}',
        '{"fault": "partition", "groups": [[0], [1, 2]]}',
        '{"wait-for": "role", "node": 2, "role": "follower", "within": 1500}',
        '{"sleep": "500ms", "text": "breathe"}',
      ),
    )
    expect(scenario.nodes).to.equal(3)
    expect(scenario.steps.map((s) => s.line)).to.deep.equal([5, 6, 7, 8, 9, 10, 11])
    expect(scenario.steps[2]).to.deep.include({kind: 'expect', condition: 'leader', not: 'old-leader', withinMs: 2000})
    expect(scenario.steps[3]).to.deep.include({kind: 'publish', count: 5, topic: 'demo', node: 'leader', outcome: 'acked', timeoutMs: 5000})
    expect(scenario.steps[4]).to.deep.include({fault: 'partition', groups: [[0], [1, 2]]})
    expect(scenario.steps[5]).to.deep.include({role: 'FOLLOWER', node: 2, withinMs: 1500})
    expect(scenario.steps[6]).to.deep.include({kind: 'sleep', ms: 500, text: 'breathe'})
  })

  it('names the line of every kind of problem', () => {
    const cases: [string, number, RegExp][] = [
      [withSteps('{"say": "a"}', '{"faul": "kill"}'), 6, /step 2: unknown step kind "faul" \(use say, remember, fault/],
      [withSteps('{"say": "a"}', '{"fault": "explode", "node": 0}'), 6, /step 2: unknown fault "explode"/],
      [withSteps('{"expect": "happiness"}'), 5, /unknown condition "happiness"/],
      [withSteps('{"fault": "kill"}'), 5, /the fault "kill" needs "node"/],
      [withSteps('{"fault": "kill", "node": 7}'), 5, /node 7 does not exist \(the cluster has nodes 0 to 2\)/],
      [withSteps('{"fault": "kill", "node": "boss"}'), 5, /unknown node "boss"/],
      [withSteps('{"fault": "start", "node": "old-leader"}'), 5, /"old-leader" is not known yet/],
      [withSteps('{"expect": "voter", "node": "added"}'), 5, /"added" is not known yet/],
      [withSteps('{"publish": "ten"}'), 5, /"publish" \(how many messages\) must be a whole number from 1 to 10000, not the text "ten"/],
      [withSteps('{"publish": 0}'), 5, /must be a whole number from 1/],
      [withSteps('{"sleep": "forever"}'), 5, /"forever" is not a duration/],
      [withSteps('{"sleep": true}'), 5, /must be a duration such as "2s"/],
      [withSteps('{"say": "a", "nod": 1}'), 5, /unknown field "nod"/],
      [withSteps('{"say": "a", "fault": "kill"}'), 5, /has two kinds \(say and fault\)/],
      [withSteps('{}'), 5, /step 1 is empty/],
      [withSteps('"kill the leader"'), 5, /step 1 must be an object/],
      [withSteps('{"expect": "role", "node": 0}'), 5, /"role" needs "role"/],
      [withSteps('{"expect": "role", "node": 0, "role": "king"}'), 5, /unknown role "king"/],
      [withSteps('{"expect": "converged", "node": 0}'), 5, /"converged" takes no "node"/],
      [withSteps('{"fault": "partition"}'), 5, /"partition" needs "groups"/],
      [withSteps('{"fault": "partition", "groups": [0, 1]}'), 5, /each group must be a non-empty list of nodes/],
      [withSteps('{"fault": "kill", "node": 0, "ms": 5}'), 5, /"ms" goes only with the fault delay/],
      [withSteps('{"publish": 1, "outcome": "maybe"}'), 5, /outcome is "acked" or "unacked"/],
      [withSteps('{"say": 42}'), 5, /"say" must be text in double quotes, not the number 42/],
      ['{\n  "name": "t",\n  "summary": "s"\n}', 1, /the scenario has no "steps"/],
      ['{\n  "summary": "s",\n  "steps": []\n}', 1, /the scenario has no "name"/],
      ['{\n  "name": "Bad Name",\n  "summary": "s",\n  "steps": [{"say": "a"}]\n}', 2, /must be lower-case letters/],
      ['{\n  "name": "t",\n  "summary": "s",\n  "nodes": "three",\n  "steps": [{"say": "a"}]\n}', 4, /"nodes" must be a whole number from 1 to 9/],
      ['{\n  "name": "t",\n  "summary": "s",\n  "steps": {}\n}', 4, /"steps" must be a list of steps, not an object/],
      ['{\n  "name": "t",\n  "name": "u"\n}', 3, /the field "name" is given twice/],
      ['{\n  "name": "t",\n  "extra": 1\n}', 3, /unknown field "extra"/],
      // Bad JSON, at the line where it goes wrong.
      [withSteps('{"say": "a"}', '{"say": "b"}').replace('"b"}', '"b"},'), 7, /a comma before "\]"/],
      [withSteps('{"say": "a"}', "{'say': 'b'}"), 6, /double quotes/],
      ['{\n  "name": "t",\n  // a comment\n}', 3, /JSON has no comments/],
      ['{\n  "name": "t"\n  "summary": "s"\n}', 3, /a "," or "}" was due/],
      ['{\n  "name": "t",\n  "summary": "s\n"}', 3, /a string may not run over the end of its line/],
      ['{\n  "name": "t",\n', 3, /the file ends in the middle of a value|never closed/],
      ['', 1, /the file is empty/],
      ['[1, 2]', 1, /a scenario is one JSON object/],
      ['{} {}', 1, /unexpected text after the scenario object/],
    ]
    for (const [text, line, reason] of cases) {
      const error = refusal(text)
      expect(error.reason, text).to.match(reason)
      expect(error.line, `${text}\n-> ${error.reason}`).to.equal(line)
    }
  })

  it('checks node indexes against the cluster the run will have, counting nodes added before', () => {
    expect(refusal(withSteps('{"fault": "kill", "node": 4}'), {nodes: 3}).reason).to.match(/node 4 does not exist/)
    expect(parseScenario(withSteps('{"fault": "kill", "node": 4}'), {nodes: 5}).nodes).to.equal(5)
    const added = parseScenario(withSteps('{"fault": "add"}', '{"expect": "voter", "node": 3}', '{"expect": "voter", "node": "added"}'))
    expect(added.steps).to.have.length(3)
    // old-leader exists after a remember, a fault on the leader, or a transfer.
    for (const first of ['{"remember": "leader"}', '{"fault": "pause", "node": "leader"}', '{"fault": "partition", "groups": [["leader"]]}', '{"fault": "transfer"}']) {
      expect(parseScenario(withSteps(first, '{"expect": "stepped-down", "node": "old-leader"}')).steps).to.have.length(2)
    }
  })

  it('refuses hostile files cleanly: too big, too deep, too many steps', () => {
    expect(refusal(' '.repeat(MAX_FILE_BYTES + 1)).reason).to.match(/larger than 256 KiB/)
    const deep = `{"name": "t", "summary": "s", "steps": [${'['.repeat(MAX_DEPTH + 5)}${']'.repeat(MAX_DEPTH + 5)}]}`
    expect(refusal(deep).reason).to.match(/nested deeper than 16 levels/)
    // Far deeper than the stack would allow a naive recursive reader: still one clean line.
    expect(refusal('['.repeat(200_000)).reason).to.match(/nested deeper/)
    const many = withSteps(...Array.from({length: 201}, () => '{"say": "a"}'))
    expect(refusal(many)).to.deep.equal({line: 205, reason: 'more than 200 steps'})
    expect(refusal(withSteps(`{"say": "${'x'.repeat(1001)}"}`)).reason).to.match(/longer than 1000 characters/)
    expect(refusal(withSteps('{"sleep": 1e400}')).reason).to.match(/too large/)
  })

  it('reads files by path and built-ins by name; a bad file’s error names file and line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pad-scenario-test-'))
    try {
      const file = path.join(dir, 'mine.json')
      fs.writeFileSync(file, withSteps('{"say": "a"}', '{"fault": "kil", "node": 0}'))
      expect(() => loadScenario(file)).to.throw(ScenarioLoadError, `${file}:6: step 2: unknown fault "kil"`)
      expect(() => readScenarioFile(dir)).to.throw(ScenarioLoadError, /is not a regular file/)
      expect(() => loadScenario(path.join(dir, 'none.json'))).to.throw(ScenarioLoadError, /cannot read .*ENOENT/)
      fs.writeFileSync(file, Buffer.alloc(MAX_FILE_BYTES + 10, 0x20))
      expect(() => loadScenario(file)).to.throw(ScenarioLoadError, /a scenario file is at most 256 KiB/)
      expect(() => loadScenario('no-such-scenario')).to.throw(ScenarioLoadError, /no built-in scenario "no-such-scenario": use .*leader-failure/)
      expect(() => loadScenario('Bad Name!')).to.throw(ScenarioLoadError, /neither a built-in scenario nor a file/)
    } finally {
      fs.rmSync(dir, {recursive: true, force: true})
    }
  })

  it('has valid built-ins, each named as its file', () => {
    const builtins = listBuiltins()
    expect(builtins.map((b) => b.name)).to.include.members(['leader-failure', 'network-partition'])
    for (const b of builtins) {
      expect(path.basename(b.file)).to.equal(`${b.name}.json`)
      expect(loadScenario(b.name).steps.length).to.be.greaterThan(2)
    }
  })
})
