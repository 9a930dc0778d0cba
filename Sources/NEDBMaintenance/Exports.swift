@_exported import NEDBFormat
@_exported import NEDBState
@_exported import NEDBStore
