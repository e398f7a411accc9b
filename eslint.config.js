import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, ignores: ['node_modules/**', 'data/**', '.cache/**'] }),
  {
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error'
    }
  }
]
