@_exported import NEDBFormat
