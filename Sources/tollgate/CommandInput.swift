import Foundation
import TollgateConfig

/// A problem with the input, reported without the usage text (the arguments were fine).
struct InputError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The bytes a command reads: the file named by `--file` (a pipe such as `<(...)` or a device
/// too), or standard input without one.
func readCommandInput(file: String?) throws -> Data {
    guard let file else {
        // `readDataToEndOfFile` traps when standard input is a folder or closed.
        do {
            return try FileHandle.standardInput.readToEnd() ?? Data()
        } catch {
            throw InputError(message: "cannot read standard input: \(reason(error))")
        }
    }
    var isFolder: ObjCBool = false
    guard !(FileManager.default.fileExists(atPath: file, isDirectory: &isFolder) && isFolder.boolValue),
          let handle = FileHandle(forReadingAtPath: file)
    else {
        throw InputError(message: "cannot read \(file): \(whyUnreadable(file))")
    }
    defer { try? handle.close() }
    do {
        return try handle.readToEnd() ?? Data()
    } catch {
        throw InputError(message: "cannot read \(file): \(reason(error))")
    }
}

/// Writes a command's output, failing with a reason (a full disk, a closed pipe) instead of
/// trapping or losing it silently.
func writeCommandOutput(_ text: String) throws {
    do {
        try FileHandle.standardOutput.write(contentsOf: Data(text.utf8))
    } catch {
        throw InputError(message: "cannot write the output: \(reason(error))")
    }
}

private func reason(_ error: Error) -> String {
    let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
    if let code = underlying?.code, underlying?.domain == NSPOSIXErrorDomain, let text = strerror(Int32(code)) {
        return String(cString: text)
    }
    return (error as NSError).localizedDescription
}
