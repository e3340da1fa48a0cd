import fs from 'node:fs'
import path from 'node:path'
import {expect} from 'chai'
import {CliCluster, clusterHooks} from './cluster-helpers.js'
import {alive, startedPids} from './helpers/chaos.js'

// `pad-cli scenario run` through the built binary: a temporary cluster of real node processes on
// ports picked free for the test, in a PAD_HOME the test removes. Not --slow: the same code, with
// its bounds multiplied by ten.

describe('pad-cli scenario run', function () {
  this.timeout(180_000)
  let cluster: CliCluster | null = null
  clusterHooks(() => cluster)

  /** The flags that put the temporary cluster on this test's ports and in its PAD_HOME. */
  async function setup(): Promise<{c: CliCluster; flags: string[]}> {
    const c = (cluster = await CliCluster.create(3))
    const flags = ['--tcp-port', String(c.ports.tcp), '--http-port', String(c.ports.http), '--raft-port', String(c.ports.raft), '--dir', c.home]
    return {c, flags}
  }

  /** The scenario cluster's timeline, and that none of the node processes it started is left. */
  function timelineWithoutSurvivors(c: CliCluster): {type: string; kind?: string; step?: number; text?: string}[] {
    const dir = path.join(c.home, 'scenario')
    const pids = startedPids(dir)
    expect(pids.size).to.be.at.least(3)
    for (const pid of pids) expect(alive(pid), `pid ${pid} still runs`).to.equal(false)
    return fs
      .readFileSync(path.join(dir, 'events.jsonl'), 'utf8')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as {type: string})
  }

  it('plays leader-failure: narrates each step before it, checks, passes, and tears the cluster down', async () => {
    const {c, flags} = await setup()
    const result = await c.run(['scenario', 'run', 'leader-failure', ...flags], {cluster: false, timeoutMs: 150_000})
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0)
    const out = result.stdout
    expect(out).to.include(`PAD_HOME=${c.home} pad-cli top --cluster scenario`)
    expect(out).to.match(/\[4\/12\] SIGKILL to node \d \(the leader\)\./)
    expect(out).to.match(/\[5\/12\] Check that a node other than node \d \(the old leader\) is leader/)
    // Each announcement comes before its result.
    expect(out.indexOf('[5/12]')).to.be.lessThan(out.indexOf('✓ node', out.indexOf('[5/12]')))
    expect(out).to.not.include('✗')
    expect(out).to.match(/✓ all 20 acknowledged messages are stored at their offsets on all 3 running nodes/)
    expect(out).to.match(/PASSED: leader-failure, 12 steps/)
    const events = timelineWithoutSurvivors(c)
    const narration = events.filter((e) => e.type === 'scenario')
    expect(narration.filter((e) => e.kind === 'pass').map((e) => e.step)).to.include.members([2, 5, 12])
    expect(narration.some((e) => e.kind === 'say' && /SIGKILL to node/.test(e.text ?? ''))).to.equal(true)
    // The kill and the election are in the same timeline, after the announcement of step 4.
    const announced = events.findIndex((e) => e.type === 'scenario' && e.step === 4)
    expect(events.slice(announced).some((e) => e.type === 'kill')).to.equal(true)
    // Passed: the nodes' data is gone, the timeline stays.
    expect(fs.existsSync(path.join(c.home, 'scenario', 'node-0'))).to.equal(false)
  })

  it('plays network-partition with --json: one line per step result, then the summary', async () => {
    const {c, flags} = await setup()
    const result = await c.run(['scenario', 'run', 'network-partition', '--json', ...flags], {cluster: false, timeoutMs: 150_000})
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0)
    const lines = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const steps = lines.slice(0, -1)
    expect(steps).to.have.length(11)
    for (const [i, step] of steps.entries()) expect(step).to.include({type: 'result', step: i + 1, total: 11, ok: true})
    expect(steps[3]).to.include({kind: 'fault', title: 'Partition the network: {0} | {1,2}.'})
    expect(steps[6].title).to.equal('Check that a publish to node 0 is not acknowledged (within 2s).')
    expect(lines.at(-1)).to.include({scenario: 'network-partition', passed: true, steps: 11, ran: 11, failed_step: null, kept_dir: null})
    timelineWithoutSurvivors(c)
  })

  it('exits 1 naming the step whose check fails, and keeps the cluster folder', async () => {
    const {c, flags} = await setup()
    const file = path.join(c.home, 'wrong.json')
    fs.writeFileSync(
      file,
      JSON.stringify({name: 'wrong', summary: 'expects what is false', steps: [{say: 'a stable cluster'}, {expect: 'role', node: 0, role: 'candidate', within: '500ms'}, {say: 'never reached'}]}, null, 2),
    )
    const result = await c.run(['scenario', 'run', file, ...flags], {cluster: false, timeoutMs: 120_000})
    expect(result.code).to.equal(1)
    expect(result.stdout).to.match(/\[2\/3\] Check that node 0 is candidate \(within 500ms\)\.\n\s+✗ not within 500ms: node 0 is (leader|follower) in term \d+/)
    expect(result.stdout).to.not.include('[3/3]')
    expect(result.stdout).to.match(/FAILED: wrong at step 2 of 3 \(line 8\)/)
    const lines = result.stderr.trim().split('\n')
    expect(lines).to.have.length(1)
    expect(lines[0]).to.match(/^Error: scenario wrong failed at step 2 \(line 8\) "Check that node 0 is candidate \(within 500ms\)\.": not within 500ms/)
    // Failed: everything is kept for a look, and nothing runs.
    expect(fs.existsSync(path.join(c.home, 'scenario', 'node-0'))).to.equal(true)
    const events = timelineWithoutSurvivors(c)
    expect(events.some((e) => e.type === 'scenario' && e.kind === 'fail' && e.step === 2)).to.equal(true)
  })

  it('plays a scenario file written in YAML, with comments', async () => {
    const {c, flags} = await setup()
    const file = path.join(c.home, 'mine.yaml')
    fs.writeFileSync(file, '# YAML takes comments\nname: mine\nsummary: in YAML\nsteps:\n  - expect: leader\n    within: 10s\n  - publish: 3 # acknowledged\n  - expect: no-acked-lost\n')
    const result = await c.run(['scenario', 'run', file, ...flags], {cluster: false, timeoutMs: 120_000})
    expect(result.code, `${result.stdout}\n${result.stderr}`).to.equal(0)
    expect(result.stdout).to.match(/PASSED: mine, 3 steps/)
    timelineWithoutSurvivors(c)
  })

  it('refuses a bad file, or --slow with the timing flags, in one line before starting anything', async () => {
    const {c, flags} = await setup()
    const file = path.join(c.home, 'bad.json')
    fs.writeFileSync(file, '{\n  "name": "bad",\n  "summary": "s",\n  "steps": [\n    {"fault": "kill", "node": "boss"}\n  ]\n}\n')
    expect(await c.fails(['scenario', 'run', file, ...flags], 2, {cluster: false})).to.equal(
      `Error: ${file}:5: step 1: "node": unknown node "boss" (use an index, or leader, old-leader, follower, added)`,
    )
    expect(await c.fails(['scenario', 'run', 'no-such', ...flags], 2, {cluster: false})).to.match(/no built-in scenario "no-such": use .*leader-failure/)
    expect(await c.fails(['scenario', 'run', 'leader-failure', '--slow', '--heartbeat', '100ms', ...flags], 2, {cluster: false})).to.match(/give either --slow or --heartbeat, not both/)
    expect(await c.fails(['up', '--slow', '--election-timeout', '1s', ...c.upFlags()], 2, {cluster: false})).to.match(/--slow sets the election timeout to 1500ms .* give either --slow or --election-timeout, not both/)
    expect(fs.existsSync(path.join(c.home, 'scenario'))).to.equal(false)
    const list = await c.ok(['scenario', 'list'], {cluster: false})
    expect(list).to.match(/^leader-failure\s+Kill the leader/m)
    expect(list).to.match(/^network-partition\s+Partition/m)
  })
})
