import Foundation

/// Why the file at `path` could not be read, in the system's words ("No such file or directory").
/// A relative path also names the folder it was looked up from: "no such file" alone sends an
/// operator looking in the wrong place.
public func whyUnreadable(_ path: String) -> String {
    var isDirectory: ObjCBool = false
    let why: String
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue {
        why = "it is a folder"
    } else if access(path, R_OK) != 0 {
        why = String(cString: strerror(errno))
    } else {
        why = "reading it failed"
    }
    return path.hasPrefix("/") ? why : "\(why) (looked up from \(FileManager.default.currentDirectoryPath))"
}
