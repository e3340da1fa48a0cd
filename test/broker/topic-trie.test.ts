import {expect} from 'chai'
import {TopicTrie} from '../../src/broker/topic-trie.js'
import {TopicFilter, patternError, topicMatches} from '../../src/broker/topics.js'
import {mulberry32 as random} from '../../src/chaos/random.js'


const WORDS = ['a', 'b', 'c', 'news', 'eu', 'x1']

function randomTopic(next: () => number): string {
  const length = 1 + Math.floor(next() * 4)
  return Array.from({length}, () => WORDS[Math.floor(next() * WORDS.length)]).join('.')
}

function randomPattern(next: () => number): string {
  if (next() < 0.03) return 'all'
  const length = 1 + Math.floor(next() * 4)
  const segments = Array.from({length}, () => {
    const roll = next()
    return roll < 0.25 ? '*' : WORDS[Math.floor(next() * WORDS.length)]
  })
  if (next() < 0.3) segments[length - 1] = '>'
  return segments.join('.')
}

describe('TopicTrie', () => {
  const seed = Number(process.env.TRIE_SEED ?? 20261206)

  it(`answers as topicMatches for random patterns and topics (seed ${seed})`, () => {
    const next = random(seed)
    for (let round = 0; round < 40; round++) {
      const trie = new TopicTrie<number>()
      const patterns = Array.from({length: 1 + Math.floor(next() * 30)}, () => randomPattern(next))
      for (const pattern of patterns) expect(patternError(pattern), pattern).to.equal(null)
      patterns.forEach((pattern, i) => trie.add(pattern, i))
      // Remove some again: pruning must not lose patterns that share the path.
      const removed = new Set<number>()
      patterns.forEach((pattern, i) => {
        if (next() < 0.3) {
          expect(trie.remove(pattern, i)).to.equal(true)
          removed.add(i)
        }
      })
      for (let t = 0; t < 50; t++) {
        const topic = randomTopic(next)
        const expected = patterns.map((p, i) => i).filter((i) => !removed.has(i) && topicMatches(patterns[i], topic))
        const got: number[] = []
        trie.match(topic, (i) => got.push(i))
        expect(got.sort((x, y) => x - y), `seed ${seed} round ${round} topic ${topic} patterns ${JSON.stringify(patterns)}`).to.deep.equal(expected)
        expect(trie.matches(topic)).to.equal(expected.length > 0)
      }
    }
  })

  it('keeps the same pattern for several values and prunes only empty branches', () => {
    const trie = new TopicTrie<string>()
    expect(trie.add('a.*.c', 'x')).to.equal(true)
    expect(trie.add('a.*.c', 'x')).to.equal(false)
    trie.add('a.*.c', 'y')
    trie.add('a.>', 'z')
    expect(trie.size).to.equal(3)
    expect(trie.remove('a.*.c', 'x')).to.equal(true)
    expect(trie.remove('a.*.c', 'x')).to.equal(false)
    expect(trie.remove('never.there', 'x')).to.equal(false)
    const got: string[] = []
    trie.match('a.b.c', (v) => got.push(v))
    expect(got.sort()).to.deep.equal(['y', 'z'])
    trie.remove('a.*.c', 'y')
    trie.remove('a.>', 'z')
    expect(trie.size).to.equal(0)
    expect(trie.matches('a.b.c')).to.equal(false)
  })

  it('matches a topic among 100,000 wildcard patterns without scanning them', () => {
    const filter = new TopicFilter()
    for (let i = 0; i < 100_000; i++) filter.add(`p${i}.*.>`)
    const started = performance.now()
    let hits = 0
    for (let i = 0; i < 10_000; i++) if (filter.matches(`p${i % 200_000}.x.y`)) hits++
    // A scan would take seconds; a trie takes a few milliseconds.
    expect(performance.now() - started).to.be.below(500)
    expect(hits).to.equal(10_000)
    expect(filter.matches('q1.x.y')).to.equal(false)
  })
})
