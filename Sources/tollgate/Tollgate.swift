import ArgumentParser

/// The `tollgate` command line. Each subcommand parses its arguments and hands over to a library.
@main
struct Tollgate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tollgate",
        abstract: "A cost-aware OpenAI-compatible gateway for DeepSeek V4.",
        subcommands: [
            ServeCommand.self,
            DemoCommand.self,
            EngineSimCommand.self,
            TokensCommand.self,
            MigrateCommand.self,
            KeysCommand.self,
            TeamsCommand.self,
            ReportCommand.self,
            PriceCommand.self,
        ]
    )
}
