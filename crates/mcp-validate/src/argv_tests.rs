use super::*;

#[test]
fn arguments_pass_verbatim_without_a_shell() {
    let cmd = Argv::new("printf").arg("%s|").user_args(["a b", "$(id)", "`id`", "; rm -rf /", "*"]).command().unwrap();
    assert_eq!(cmd.get_program(), "printf");
    let args: Vec<_> = cmd.get_args().collect();
    assert_eq!(args, ["%s|", "a b", "$(id)", "`id`", "; rm -rf /", "*"]);
}

#[cfg(unix)]
#[test]
fn a_real_process_sees_each_argument_whole() {
    let out = Argv::new("printf").arg("[%s]").user_arg("$(echo pwned); x").command().unwrap().output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "[$(echo pwned); x]");
}

#[test]
fn leading_dash_needs_end_of_options() {
    assert_eq!(
        Argv::new("git").arg("log").user_arg("--output=/tmp/x").command().unwrap_err(),
        ArgvError::LeadingDash { index: 1 }
    );
    assert_eq!(Argv::new("git").user_args(["ok", "-x"]).command().unwrap_err(), ArgvError::LeadingDash { index: 1 });
    let argv = Argv::new("git").arg("log").end_of_options().user_arg("--output=/tmp/x");
    assert_eq!(argv.get_args().collect::<Vec<_>>(), ["log", "--", "--output=/tmp/x"]);
    assert!(argv.command().is_ok());
    // Trusted options may start with '-'.
    assert!(Argv::new("ls").arg("-la").args(["--color=never"]).command().is_ok());
}

#[test]
fn nul_and_empty_program_are_refused() {
    assert_eq!(Argv::new("").command().unwrap_err(), ArgvError::EmptyProgram);
    assert_eq!(Argv::new("l\0s").command().unwrap_err(), ArgvError::NulInProgram);
    assert_eq!(Argv::new("ls").arg("a").user_arg("b\0c").command().unwrap_err(), ArgvError::Nul { index: 1 });
    // The first error wins.
    let e = Argv::new("ls").user_arg("-a").arg("\0").command().unwrap_err();
    assert_eq!((e.clone(), e.rule()), (ArgvError::LeadingDash { index: 0 }, "leading_dash"));
    assert_eq!(Argv::new("ls").program(), "ls");
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_command_has_the_same_arguments() {
    let cmd = Argv::new("echo").end_of_options().user_arg("-n").tokio_command().unwrap();
    let args: Vec<_> = cmd.as_std().get_args().collect();
    assert_eq!(args, ["--", "-n"]);
    assert!(Argv::new("echo").user_arg("-n").tokio_command().is_err());
}
