import ResNetData
@testable import ResNetTraining
import XCTest

/// `--recipe`: presets fill the settings they name and nothing else, every preset is a valid run,
/// and an unknown name says which exist. (That explicit options win is checked on the command line
/// by Tests/CLI/hostile-inputs.sh.)
final class RecipeTests: XCTestCase {
    func testFmnistFastFillsItsFieldsAndLeavesTheRest() throws {
        var s = TrainingSettings()
        try Recipes.named("fmnist-fast").apply(to: &s)
        var expected = TrainingSettings()
        expected.model = "resnet20"
        expected.epochs = 3
        expected.schedule = "onecycle"
        expected.learningRate = 0.2
        expected.labelSmoothing = 0.1
        expected.recipe = "fmnist-fast"
        XCTAssertEqual(s, expected)
        XCTAssertEqual(Recipes.fmnistFast.commandLine,
                       "--model resnet20 --epochs 3 --schedule onecycle --lr 0.2 --label-smoothing 0.1")
    }

    func testFmnistBestAndFinetune() throws {
        var best = TrainingSettings()
        Recipes.fmnistBest.apply(to: &best)
        XCTAssertEqual(best.timeBudget, 85)
        XCTAssertEqual(best.randomCrop, 4)
        XCTAssertEqual(best.randomErasing, 0.5)
        XCTAssertEqual(best.ema, 0.999)
        XCTAssertEqual(best.warmupEpochs, 1)

        var tune = TrainingSettings()
        Recipes.finetune.apply(to: &tune)
        XCTAssertEqual(tune.model, "resnet50")
        XCTAssertEqual(tune.imageSize, 224)
        XCTAssertEqual(tune.mean, ImagePipeline.imageNetMean)
        XCTAssertEqual(tune.std, ImagePipeline.imageNetStd)
        XCTAssertEqual(tune.learningRate, 0.01)
        XCTAssertEqual(tune.headLR, 0.1)
        XCTAssertEqual(tune.freeze, ["stem"])
        XCTAssertEqual(tune.weightDecay, 1e-4)
        XCTAssertTrue(Recipes.finetune.commandLine.contains("--imagenet-normalize --epochs 10"))
        XCTAssertTrue(Recipes.finetune.commandLine.contains("--freeze stem"))
    }

    /// Every recipe is a run `validate` accepts.
    func testEveryRecipeValidates() throws {
        XCTAssertEqual(Recipes.names, ["fmnist-fast", "fmnist-best", "finetune"])
        for recipe in Recipes.all {
            var s = TrainingSettings()
            recipe.apply(to: &s)
            XCTAssertNoThrow(try s.validate(), recipe.name)
            XCTAssertEqual(s.recipe, recipe.name)
            XCTAssertFalse(recipe.settings.isEmpty)
        }
    }

    func testAnUnknownRecipeListsTheNames() {
        XCTAssertThrowsError(try Recipes.named("fmnist-fastest")) {
            XCTAssertEqual("\($0)", "--recipe: no recipe 'fmnist-fastest'; the recipes are fmnist-fast, fmnist-best, finetune (`--recipe list` shows what each sets)")
        }
    }

    /// A checkpoint.json saved before recipes existed has no `recipe` key and still decodes.
    func testSettingsWithoutTheNewKeysDecode() throws {
        var s = TrainingSettings()
        Recipes.finetune.apply(to: &s)
        s.timeBudget = 5
        let json = try JSONEncoder().encode(s)
        XCTAssertEqual(try JSONDecoder().decode(TrainingSettings.self, from: json), s)
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: json) as? [String: Any])
        for key in ["recipe", "headLR", "freeze", "timeBudget"] { XCTAssertNotNil(object.removeValue(forKey: key), key) }
        let old = try JSONDecoder().decode(TrainingSettings.self, from: JSONSerialization.data(withJSONObject: object))
        XCTAssertNil(old.recipe)
        XCTAssertNil(old.headLR)
        XCTAssertNil(old.freeze)
        XCTAssertNil(old.timeBudget)
    }
}
