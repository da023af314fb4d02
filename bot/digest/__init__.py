"""The weekly research digest: compiling, rendering (HTML, charts, XLSX) and delivering it."""
