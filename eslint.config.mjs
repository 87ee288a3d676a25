// ESLint 9 (flat config) for the web UI: plain ES modules run by the browser as they are, no build step.
import js from '@eslint/js';
import globals from 'globals';

export default [
  { ignores: ['src/neutrino/engine/web/static/vendor/**', 'node_modules/**', 'test-artifacts/**'] },
  js.configs.recommended,
  {
    files: ['src/neutrino/engine/web/static/**/*.js'],
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: globals.browser },
    rules: {
      'no-unused-vars': ['error', { args: 'after-used', argsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-var': 'error',
      'prefer-const': 'error',
      'no-implicit-globals': 'error',
      'no-console': 'error',
      'max-lines': ['error', { max: 500, skipBlankLines: true, skipComments: true }],
    },
  },
];
