@_exported import NEDBReader
