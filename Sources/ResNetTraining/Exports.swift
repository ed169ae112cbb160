// `import ResNetTraining` brings the models, layers, engine and data pipeline with it.
@_exported import ResNetData
@_exported import ResNetModels
@_exported import ResNetDistributed
