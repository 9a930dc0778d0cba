@_exported import NEDBPrimitives
