import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway certificate authority and a serving certificate for 127.0.0.1/localhost, generated in
/// process at start-up (ECDSA P-256), as PEM.
public struct TLSMaterial: Sendable {
    public var caCertificatePEM: String
    public var serverCertificatePEM: String
    public var serverKeyPEM: String

    public static func generate(hosts: [String] = ["localhost"], ips: [String] = ["127.0.0.1"]) throws -> TLSMaterial {
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("flotilla-dev-ca") }
        let now = Date()
        let notBefore = now.addingTimeInterval(-3600)
        let notAfter = now.addingTimeInterval(3600 * 24 * 365)
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: caName, subject: caName,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true))
            },
            issuerPrivateKey: .init(caKey))
        let serverKey = P256.Signing.PrivateKey()
        var names: [GeneralName] = hosts.map { .dnsName($0) }
        for ip in ips {
            let octets = ip.split(separator: ".").compactMap { UInt8($0) }
            if octets.count == 4 { names.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(octets)))) }
        }
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: notBefore, notValidAfter: notAfter, issuer: caName,
            subject: try DistinguishedName { CommonName("kube-apiserver") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
            },
            issuerPrivateKey: .init(caKey))
        return TLSMaterial(caCertificatePEM: try ca.serializeAsPEM().pemString,
                           serverCertificatePEM: try server.serializeAsPEM().pemString,
                           serverKeyPEM: serverKey.pemRepresentation)
    }
}
