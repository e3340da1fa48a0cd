import {expect} from 'chai'
import {isWildcard, MAX_TOPIC_LENGTH, patternError, TopicFilter, topicError, topicMatches} from '../../src/broker/topics.js'

describe('topics', () => {
  describe('topicError', () => {
    for (const topic of ['news', 'orders.eu', 'a.b.c.d', 'test0', 'raft-test', 'user_42', 'svc:api@v2', 'price$', 'all', 'x'.repeat(MAX_TOPIC_LENGTH)]) {
      it(`accepts ${JSON.stringify(topic.length > 20 ? `${topic.slice(0, 8)}… (${topic.length})` : topic)}`, () => {
        expect(topicError(topic)).to.equal(null)
      })
    }
    for (const [topic, why] of [
      ['', /non-empty/],
      [undefined, /non-empty string/],
      [42, /non-empty string/],
      ['x'.repeat(MAX_TOPIC_LENGTH + 1), /longer than 255/],
      ['news.*', /no wildcards/],
      ['news.>', /no wildcards/],
      ['a..b', /invalid/],
      ['.a', /invalid/],
      ['a.', /invalid/],
      ['has space', /invalid/],
      ['naïve', /invalid/],
      ['a/b', /invalid/],
    ] as [unknown, RegExp][]) {
      it(`refuses ${JSON.stringify(topic)}`, () => {
        expect(topicError(topic)).to.match(why)
      })
    }
  })

  describe('patternError', () => {
    for (const pattern of ['news', 'orders.*', '*.eu', '*', '>', 'orders.>', '*.*.>', 'all']) {
      it(`accepts ${pattern}`, () => {
        expect(patternError(pattern)).to.equal(null)
      })
    }
    for (const [pattern, why] of [
      ['', /non-empty/],
      [['news'], /non-empty string/],
      ['>.news', /">" may only be the last segment/],
      ['a.>.b', /">" may only be the last segment/],
      ['a.**', /bad segment "\*\*"/],
      ['a.b*', /bad segment "b\*"/],
      ['a..b', /bad segment ""/],
    ] as [unknown, RegExp][]) {
      it(`refuses ${JSON.stringify(pattern)}`, () => {
        expect(patternError(pattern)).to.match(why)
      })
    }
  })

  describe('topicMatches', () => {
    const cases: [string, string, boolean][] = [
      ['news', 'news', true],
      ['news', 'news.eu', false],
      ['news', 'new', false],
      ['*', 'news', true],
      ['*', 'news.eu', false],
      ['orders.*', 'orders.eu', true],
      ['orders.*', 'orders', false],
      ['orders.*', 'orders.eu.fr', false],
      ['orders.*', 'ordersx.eu', false],
      ['*.eu', 'orders.eu', true],
      ['*.eu', 'orders.us', false],
      ['*.*', 'a.b', true],
      ['*.*', 'a', false],
      ['>', 'a', true],
      ['>', 'a.b.c', true],
      ['orders.>', 'orders.eu', true],
      ['orders.>', 'orders.eu.fr.paris', true],
      ['orders.>', 'orders', false],
      ['orders.>', 'other.eu', false],
      ['*.eu.>', 'orders.eu.fr', true],
      ['*.eu.>', 'orders.eu', false],
      ['all', 'anything.at.all', true],
      ['all', 'all', true],
    ]
    for (const [pattern, topic, expected] of cases) {
      it(`${pattern} ${expected ? 'matches' : 'does not match'} ${topic}`, () => {
        expect(topicMatches(pattern, topic)).to.equal(expected)
      })
    }
  })

  describe('isWildcard', () => {
    it('tells exact topics from patterns', () => {
      expect(['news', 'a.b', 'star*'].map(isWildcard)).to.deep.equal([false, false, false])
      expect(['*', 'a.*', 'a.>', 'all'].map(isWildcard)).to.deep.equal([true, true, true, true])
    })
  })

  describe('TopicFilter', () => {
    it('matches any of its exact topics and patterns', () => {
      const filter = new TopicFilter()
      filter.add('news')
      filter.add('orders.*')
      expect(filter.matches('news')).to.equal(true)
      expect(filter.matches('orders.eu')).to.equal(true)
      expect(filter.matches('orders.eu.fr')).to.equal(false)
      expect(filter.matches('weather')).to.equal(false)
      expect(filter.size).to.equal(2)
      expect(filter.patterns().sort()).to.deep.equal(['news', 'orders.*'])
    })

    it('stops matching what was removed, and reports whether it held it', () => {
      const filter = new TopicFilter()
      filter.add('news')
      filter.add('orders.>')
      expect(filter.remove('orders.>')).to.equal(true)
      expect(filter.remove('orders.>')).to.equal(false)
      expect(filter.remove('never.added')).to.equal(false)
      expect(filter.matches('orders.eu')).to.equal(false)
      expect(filter.matches('news')).to.equal(true)
      expect(filter.remove('news')).to.equal(true)
      expect(filter.size).to.equal(0)
      expect(filter.matches('news')).to.equal(false)
    })

    it('counts a pattern added twice once', () => {
      const filter = new TopicFilter()
      filter.add('all')
      filter.add('all')
      expect(filter.size).to.equal(1)
      expect(filter.matches('x.y')).to.equal(true)
    })
  })
})
