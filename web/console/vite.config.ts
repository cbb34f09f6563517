import { defineConfig } from 'vite';

// OUTCALL_CONSOLE_OUT: where the build goes (CMake passes ${CMAKE_BINARY_DIR}/console).
// OUTCALL_API: the edge to proxy /api to during `npm run dev`.
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: process.env.OUTCALL_CONSOLE_OUT || 'dist',
    emptyOutDir: true,
    target: 'es2020',
    sourcemap: false,
    assetsInlineLimit: 4096,
    reportCompressedSize: false,
  },
  server: {
    proxy: { '/api': { target: process.env.OUTCALL_API || 'http://127.0.0.1:8080', changeOrigin: false } },
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
  },
});
