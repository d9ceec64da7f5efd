// A minimal backend for Etsy's statsd (loaded by absolute path from its `backends` config): on
// every flush it prints one JSON line to stdout with the non-zero counters whose key starts with
// `bench` and statsd's own packet/line counters, so bench/run.mjs can count what went through a
// flush. CommonJS because Etsy's statsd loads backends with require().
/* global exports */
'use strict';

exports.init = function init(_startupTime, _config, events) {
  events.on('flush', function onFlush(timestamp, metrics) {
    const counters = {};
    for (const key in metrics.counters) {
      const value = metrics.counters[key];
      if (value !== 0 && (key.startsWith('bench') || key.startsWith('statsd.'))) counters[key] = value;
    }
    process.stdout.write(JSON.stringify({ etsy_flush: timestamp, counters }) + '\n');
  });
  return true;
};
