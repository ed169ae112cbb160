// `import ResNetModels` brings the engine and the layers with it, as `import torch` does.
@_exported import ResNetEngine
@_exported import ResNetLayers
