/**
 * `pad-cli publish` and `pad-cli subscribe`, run as a user runs them (the build, through
 * bin/run.js), against a real node.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {expect} from 'chai'
import {getJson, http, LineSocket} from './helpers/clients.js'
import {cliArgs, eventually, freePort, HOST, nodeFixture, REPO_ROOT, type NodeProcess} from './helpers/node-process.js'

interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

const running = new Set<ChildProcess>()
/** A PAD_HOME of the tests' own, so no running cluster of the user's is picked up. */
let padHome = ''

/** Runs `pad-cli <args>`; kills it (by pid) if it has not exited within the bound. */
function cli(args: string[], options: {input?: string; timeoutMs?: number} = {}): {result: Promise<CliResult>; child: ChildProcess; stdout: () => string} {
  const child = spawn(process.execPath, cliArgs(...args), {
    cwd: REPO_ROOT,
    env: {...process.env, PAD_HOME: padHome},
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  running.add(child)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')))
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')))
  child.stdin!.on('error', () => {})
  child.stdin!.end(options.input ?? '')
  const result = new Promise<CliResult>((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000)
    child.once('exit', (code) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({code, stdout, stderr})
    })
  })
  return {result, child, stdout: () => stdout}
}

const run = (args: string[], options?: {input?: string; timeoutMs?: number}): Promise<CliResult> => cli(args, options).result

/**
 * Runs `pad-cli <args>` once the runs queued before it have ended: started all at once, each of
 * them (and the tests' own runs) would start slower than its bound on a loaded machine.
 */
let queue: Promise<unknown> = Promise.resolve()
function runInTurn(args: string[]): Promise<CliResult> {
  const result = queue.then(() => run(args))
  queue = result
  return result
}

/** Non-empty lines of an output. */
const lines = (text: string): string[] => text.split('\n').filter((line) => line.trim() !== '')

function expectOneLineError(result: CliResult, message: RegExp): void {
  expect(result.code, result.stderr).to.equal(1)
  const errorLines = lines(result.stderr)
  expect(errorLines, result.stderr).to.have.length(1)
  expect(errorLines[0]).to.match(/Error: /)
  expect(errorLines[0]).to.match(message)
  expect(result.stderr).not.to.match(/^\s+at /m)
}

describe('pad-cli publish and subscribe (real processes)', function () {
  this.timeout(240_000)
  const nodes = nodeFixture('all')
  let node: NodeProcess
  let target: string[]
  let closedPort: number
  /** The runs that must fail, queued up front (each takes a process start) and run one at a time. */
  let refused: Record<'badXml' | 'badJson' | 'badTopic' | 'noNodePublish' | 'noNodeSubscribe' | 'httpPort' | 'badFrom', Promise<CliResult>>

  before(async () => {
    padHome = nodes.tempDir()
    // Only cli.gap has a limit: the other tests' topics keep everything.
    node = await nodes.start({args: ['--retention', 'topic:cli.gap:max-messages=20']})
    target = ['--host', HOST, '--port', String(node.ports.tcp)]
    closedPort = await freePort()
    const nowhere = ['--host', HOST, '--port', String(closedPort)]
    refused = {
      badXml: runInTurn(['publish', 'cli.bad', '<order><item></order>', '--format', 'xml', ...target]),
      badJson: runInTurn(['publish', 'cli.bad', '{"unterminated":', ...target]),
      badTopic: runInTurn(['publish', 'bad topic', '{}', ...target]),
      noNodePublish: runInTurn(['publish', 'cli.news', '{}', ...nowhere, '--connect-timeout', '1s']),
      noNodeSubscribe: runInTurn(['subscribe', 'cli.news', ...nowhere]),
      httpPort: runInTurn(['publish', 'cli.news', '{}', '--host', HOST, '--port', String(node.ports.http)]),
      badFrom: runInTurn(['subscribe', 'cli.sub', '--from', 'yesterday', ...target]),
    }
  })
  after(() => {
    for (const child of running) child.kill('SIGKILL')
    running.clear()
  })

  it('publishes and prints "stored <topic>@<offset>", --json prints the acknowledgement, a repeated --id says "duplicate of"', async () => {
    const first = await run(['publish', 'cli.news', '{"headline":"one"}', ...target])
    expect(first.code, first.stderr).to.equal(0)
    expect(first.stdout).to.equal('stored cli.news@0 (detected format: JSON)\n')
    const second = await run(['publish', 'cli.news', '{"headline":"two"}', '--json', '--id', 'order-1', ...target])
    expect(second.code, second.stderr).to.equal(0)
    expect(JSON.parse(second.stdout)).to.deep.equal({topic: 'cli.news', offset: 1, format: 'JSON', format_detected: true})
    const again = await run(['publish', 'cli.news', '{"headline":"two"}', '--id', 'order-1', ...target])
    expect(again.code, again.stderr).to.equal(0)
    expect(again.stdout).to.equal('duplicate of cli.news@1 (detected format: JSON)\n')
    const {messages} = await getJson<{messages: {offset: number; body: string; format: string}[]}>(node, '/messages?topic=cli.news&order=oldest')
    expect(messages.map((m) => [m.offset, m.format, m.body])).to.deep.equal([
      [0, 'JSON', '{"headline":"one"}'],
      [1, 'JSON', '{"headline":"two"}'],
    ])
  })

  it('detects the format without --format: plain text is RAW, XML is XML, and says so', async () => {
    const [text, xml, json] = await Promise.all([
      run(['publish', 'cli.detect', 'hello', ...target]),
      run(['publish', 'cli.detect.xml', '<order id="8"/>', '--json', ...target]),
      run(['publish', 'cli.detect.json', '42', '--format', 'json', '--json', ...target]),
    ])
    expect(text.code, text.stderr).to.equal(0)
    expect(text.stdout).to.equal('stored cli.detect@0 (detected format: RAW)\n')
    expect(JSON.parse(xml.stdout)).to.deep.equal({topic: 'cli.detect.xml', offset: 0, format: 'XML', format_detected: true})
    expect(JSON.parse(json.stdout)).to.deep.equal({topic: 'cli.detect.json', offset: 0, format: 'JSON', format_detected: false})
    const {messages} = await getJson<{messages: {format: string; body: string}[]}>(node, '/messages?topic=cli.detect')
    expect(messages.map((m) => [m.format, m.body])).to.deep.equal([['RAW', 'hello']])
  })

  it('reads the body from stdin with "-", in the format given', async () => {
    const [xml, raw] = await Promise.all([
      run(['publish', 'cli.stdin.xml', '-', '--format', 'xml', ...target], {input: '<order id="7"><item>tea ✓</item></order>'}),
      run(['publish', 'cli.stdin.raw', '-', '--format', 'raw', ...target], {input: 'line one\nline two'}),
    ])
    expect(xml.code, xml.stderr).to.equal(0)
    expect(xml.stdout).to.equal('stored cli.stdin.xml@0\n')
    expect(raw.code, raw.stderr).to.equal(0)
    for (const [topic, format, body] of [
      ['cli.stdin.xml', 'XML', '<order id="7"><item>tea ✓</item></order>'],
      ['cli.stdin.raw', 'RAW', 'line one\nline two'],
    ]) {
      const {messages} = await getJson<{messages: {format: string; body: string}[]}>(node, `/messages?topic=${topic}`)
      expect(messages.map((m) => [m.format, m.body])).to.deep.equal([[format, body]])
    }
  })

  it('fails with a one-line error, and stores nothing, for a body that is not well-formed XML', async () => {
    const result = await refused.badXml
    expectOneLineError(result, /BAD_REQUEST: body is not well-formed XML: .*closing tag/)
    expect(result.stdout).to.equal('')
    const {messages} = await getJson<{messages: unknown[]}>(node, '/messages?topic=cli.bad')
    expect(messages).to.deep.equal([])
  })

  it('fails with a one-line error for a JSON body that does not parse and for a bad topic', async () => {
    const [json, topic] = await Promise.all([refused.badJson, refused.badTopic])
    expectOneLineError(json, /BAD_REQUEST: body is not valid JSON.*\(sent as JSON, as it looks like JSON; --format raw stores it as it is\)$/)
    expectOneLineError(topic, /BAD_REQUEST: topic "bad topic" is invalid/)
  })

  it('fails with a one-line error when no node answers at the port', async () => {
    for (const result of await Promise.all([refused.noNodePublish, refused.noNodeSubscribe])) {
      expectOneLineError(result, new RegExp(`no pad-cli node answered at ${HOST}:${closedPort}: connection refused for [15] s \\(--connect-timeout waits longer\\); is a node running there\\?$`))
      expect(result.stdout).to.equal('')
    }
  })

  it('waits for a node that is not listening yet, as right after starting nodes by hand', async () => {
    const ports = {tcp: await freePort(), http: await freePort(), raft: await freePort()}
    const early = run(['publish', 'cli.late', '"late"', '--host', HOST, '--port', String(ports.tcp), '--connect-timeout', '80s'])
    await nodes.start({ports})
    const result = await early
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('stored cli.late@0 (detected format: JSON)\n')
  })

  it('says so when given the node\'s HTTP port instead of its TCP port', async () => {
    const result = await refused.httpPort
    expectOneLineError(result, new RegExp(`${HOST}:${node.ports.http} answered in HTTP: that is a node's HTTP port; give its TCP port`))
  })

  it('subscribes from the beginning and exits after --count messages, one JSON line each with --json', async () => {
    for (let i = 0; i < 4; i++) expect((await http(node, 'POST', '/publish', {topic: 'cli.sub', body: `{"i":${i}}`})).status).to.equal(200)
    const result = await run(['subscribe', 'cli.sub', '--from', 'beginning', '--count', '3', '--json', ...target])
    expect(result.code, result.stderr).to.equal(0)
    const printed = lines(result.stdout).map((line) => JSON.parse(line) as Record<string, unknown>)
    expect(printed.map((m) => [m.topic, m.offset, m.format, m.body])).to.deep.equal([
      ['cli.sub', 0, 'JSON', '{"i":0}'],
      ['cli.sub', 1, 'JSON', '{"i":1}'],
      ['cli.sub', 2, 'JSON', '{"i":2}'],
    ])
    expect(Number.isNaN(Date.parse(printed[0].timestamp as string))).to.equal(false)
  })

  it('subscribes from an offset, with a wildcard, printing "<topic>@<offset> <body>"', async () => {
    const result = await run(['subscribe', 'cli.*', '--from', '2', '--count', '2', ...target])
    expect(result.code, result.stderr).to.equal(0)
    // Only cli.sub has offsets 2 and up (cli.news has 0 and 1).
    expect(lines(result.stdout)).to.deep.equal(['cli.sub@2 {"i":2}', 'cli.sub@3 {"i":3}'])
  })

  it('delivers a live message to a running subscriber, which then exits', async () => {
    const subscriber = cli(['subscribe', 'cli.live', '--count', '1', ...target])
    await eventually('the subscriber to be listed', async () => {
      const {subscribers} = await getJson<{subscribers: {topics: string[]}[]}>(node, '/subscribers')
      return subscribers.some((s) => s.topics.includes('cli.live')) ? true : undefined
    }, 20_000, 100)
    expect((await http(node, 'POST', '/publish', {topic: 'cli.live', body: '{"live":true}'})).status).to.equal(200)
    const result = await subscriber.result
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('cli.live@0 {"live":true}\n')
  })

  it('says on stderr, once, that retention trimmed what a stopped subscriber had not read yet, and goes on', async () => {
    const subscriber = cli(['subscribe', 'cli.gap', '--from', 'beginning', ...target])
    await eventually('the subscriber to be listed', async () => {
      const {subscribers} = await getJson<{subscribers: {topics: string[]}[]}>(node, '/subscribers')
      return subscribers.some((s) => s.topics.includes('cli.gap')) ? true : undefined
    }, 20_000, 100)
    // Stopped, it reads nothing: the node fills the socket, then stops reading the topic for it
    // while retention trims past its position (16 MB is more than the buffers on the way hold).
    const count = 2000
    const body = 'x'.repeat(8000)
    subscriber.child.kill('SIGSTOP')
    try {
      const socket = await LineSocket.connect(node.ports.tcp)
      // In batches, each acknowledged before the next: one 16 MB burst can outlast the commit
      // timeout on a loaded machine.
      const batch = 100
      for (let from = 0; from < count; from += batch) {
        await socket.send(Array.from({length: batch}, (_, i) => JSON.stringify({op: 'publish', topic: 'cli.gap', format: 'RAW', body, ref: from + i}) + '\n').join(''))
        const acks = await socket.takeJson(batch, 30_000)
        expect(acks.filter((ack) => ack.op !== 'ack').slice(0, 3)).to.deep.equal([])
      }
      socket.close()
    } finally {
      subscriber.child.kill('SIGCONT')
    }
    await eventually('the newest message printed', async () => (subscriber.stdout().includes(`cli.gap@${count - 1} `) ? true : undefined), 60_000, 100)
    subscriber.child.kill('SIGINT')
    const result = await subscriber.result
    const offsets = lines(result.stdout).map((line) => Number(/^cli\.gap@(\d+) /.exec(line)?.[1]))
    expect(offsets[0]).to.equal(0)
    expect(offsets.at(-1)).to.equal(count - 1)
    const jumps = offsets.flatMap((offset, i) => (i > 0 && offset !== offsets[i - 1] + 1 ? [[offsets[i - 1], offset]] : []))
    // It may fall behind more than once (it reads slower than the node pages history): each gap
    // is said once, in order, naming exactly what the printed offsets skip.
    expect(jumps.length, result.stderr).to.be.at.least(1)
    const notices = lines(result.stderr).filter((line) => line.startsWith('pad-cli subscribe: '))
    expect(notices, result.stderr).to.deep.equal(
      jumps.map(([before, after]) => {
        const missed = after - before - 1
        return `pad-cli subscribe: retention deleted ${missed} messages of topic cli.gap (offsets ${before + 1} to ${after - 1}) before this subscriber read them; it goes on from offset ${after}`
      }),
    )
  })

  it('refuses a bad --from with a one-line error', async () => {
    const result = await refused.badFrom
    expect(result.code).to.equal(2)
    expect(lines(result.stderr)).to.deep.equal(['Error: --from must be latest, beginning or an offset (got "yesterday")'])
  })
})
