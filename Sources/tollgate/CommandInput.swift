import Foundation
import TollgateConfig

/// A problem with the input, reported without the usage text (the arguments were fine).
struct InputError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The bytes a command reads: the file named by `--file`, or standard input without one.
func readCommandInput(file: String?) throws -> Data {
    guard let file else { return FileHandle.standardInput.readDataToEndOfFile() }
    guard let data = FileManager.default.contents(atPath: file) else {
        throw InputError(message: "cannot read \(file): \(whyUnreadable(file))")
    }
    return data
}
