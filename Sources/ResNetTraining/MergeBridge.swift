import ResNetModels
// TEMPORARY until rel-models merges: validateInput lives in ResNetModels there.
extension ResNetConfig {
    func validateInput(height: Int, width: Int) throws {}
}
