// Type-aware lint. The layering rule keeps src/domain free of Node built-ins and of adapters.
import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";

export default tseslint.config(
  {
    ignores: ["dist/**", "node_modules/**", "src/gen/**", "examples/build/**", "eslint.config.js"],
  },
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "import-x": importX },
    settings: { "import-x/resolver": { node: true } },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: false, requireDefaultForNonUnion: false },
      ],
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unnecessary-condition": [
        "error",
        { allowConstantLoopConditions: true },
      ],
      "import-x/no-cycle": ["error", { maxDepth: 20 }],
      "no-console": "error",
    },
  },
  {
    files: ["src/domain/**/*.ts"],
    ignores: ["src/domain/**/*.test.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["node:*"], message: "src/domain is pure: no Node built-ins." },
            {
              group: [
                "**/store/**",
                "**/agent/**",
                "**/controller/**",
                "**/kctl/**",
                "**/wasm/**",
                "**/api/**",
                "**/pki/**",
              ],
              message: "src/domain must not import adapters.",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/kctl/output.ts", "src/cli/**/*.ts", "scripts/**/*.ts", "bench/**/*.ts"],
    rules: { "no-console": "off" },
  },
  {
    // Ambient declarations mirroring a JavaScript API: classes are how that API is shaped.
    files: ["src/types/*.d.ts"],
    rules: { "@typescript-eslint/no-extraneous-class": "off" },
  },
  {
    files: ["**/*.test.ts", "test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-floating-promises": [
        "error",
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite"] },
          ],
        },
      ],
    },
  },
);
