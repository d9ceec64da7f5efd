// Lint rules: the recommended sets, plus the few that catch real bugs in async, event-driven code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** `no-restricted-imports` per layer: a file under `files` may not import what `forbidden` names. */
function layer(files, forbidden, message, ignores = []) {
  return {
    files,
    ignores,
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: forbidden, message }] }],
    },
  };
}

function layerRules() {
  const above = (...names) => `(^|/)(${names.join('|')})(/|\\.js$)`;
  return [
    layer(
      ['src/core/**/*.ts'],
      above('aggregation', 'sources', 'sinks', 'cli', 'protocols', 'registry', 'testing'),
      'src/core is the bottom layer: it knows the metric model, not components or protocols.',
      ['src/core/**/*.test.ts'],
    ),
    layer(
      ['src/protocols/**/*.ts', 'src/config/**/*.ts'],
      above('aggregation', 'sources', 'sinks', 'cli', 'registry'),
      'Protocols and config are pure layers below aggregation and components.',
      ['src/**/*.test.ts'],
    ),
    layer(
      ['src/aggregation/**/*.ts'],
      above('sources', 'sinks', 'cli', 'registry'),
      'StatsD-family aggregation serves sources; it does not know them.',
      ['src/aggregation/**/*.test.ts'],
    ),
    layer(
      ['src/sinks/**/*.ts'],
      above('sources', 'cli', 'registry', 'aggregation'),
      'A sink consumes the metric model: it knows no source and no aggregation state.',
      ['src/sinks/**/*.test.ts'],
    ),
    layer(
      ['src/sources/*/**/*.ts'],
      '^\\.\\./(?!transport/|polling/|ingest/)[a-z_]+/|(^|/)(sinks|cli|registry)(/|\\.js$)',
      'A source shares code with another only through a common layer (src/aggregation, transport, polling, ingest).',
      ['src/sources/**/*.test.ts'],
    ),
  ];
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.cache/', 'build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: {
        process: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        URL: 'readonly',
        structuredClone: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-constant-condition': ['error', { checkLoops: false }],
      eqeqeq: ['error', 'smart'],
      'prefer-const': 'error',
    },
  },
  // Imports point one way: core <- config/protocols <- aggregation <- sources, sinks <- cli.
  // A layer never imports one above it, sinks never know sources, and a source reaches another
  // source's code only through a shared layer (transport, polling, aggregation).
  ...layerRules(),
  {
    files: ['**/*.mjs', '**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  // The status page's script runs in the browser, with no build step.
  {
    files: ['src/admin/page/**/*.js'],
    languageOptions: {
      sourceType: 'module',
      globals: { document: 'readonly', fetch: 'readonly', window: 'readonly' },
    },
  },
);
